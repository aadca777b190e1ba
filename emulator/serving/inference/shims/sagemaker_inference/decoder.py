"""`decode(body, content_type)` → NumPy array for JSON, CSV and NPY."""

from emulator.serving.inference.codecs import decode

__all__ = ["decode"]
