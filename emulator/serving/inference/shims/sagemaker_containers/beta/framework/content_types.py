"""Content type names used by the framework images."""

from emulator.serving.inference.codecs import ANY, CSV, JSON, NPY, OCTET_STREAM, UTF8_TYPES

__all__ = ["ANY", "CSV", "JSON", "NPY", "OCTET_STREAM", "UTF8_TYPES"]
