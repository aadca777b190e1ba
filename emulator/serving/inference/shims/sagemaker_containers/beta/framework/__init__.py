"""`sagemaker_containers.beta.framework`: the helper modules inference scripts import (minimal stand-ins)."""

from sagemaker_containers.beta.framework import content_types, encoders, errors, worker

__all__ = ["content_types", "encoders", "errors", "worker"]
