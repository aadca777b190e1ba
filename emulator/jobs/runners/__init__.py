"""Runners start a job's hosts: `docker` (one container per host) and `process` (local processes that
see the same /opt/ml layout). Both implement `base.Runner`; the worker never asks which one it has."""
