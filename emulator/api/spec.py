"""Loading botocore's service models, and what we declare about them in `api_specs/`.

The models come from the pinned botocore package through its own loader. `api_specs/implemented.json`
lists, per service, the operations this emulator serves; tests check that it matches the registry.
"""

from __future__ import annotations

import functools
from pathlib import Path

import botocore.loaders
from botocore.model import ServiceModel

API_SPECS_DIR = Path(__file__).resolve().parents[2] / "api_specs"


@functools.cache
def service_model(service_name: str) -> ServiceModel:
    loader = botocore.loaders.create_loader()
    return ServiceModel(loader.load_service_model(service_name, "service-2"), service_name=service_name)
