"""`encode(array, accept)` for JSON, CSV and NPY."""

from emulator.serving.inference.codecs import encode

__all__ = ["encode"]
