"""Content type names of the inference toolkit."""

from emulator.serving.inference.codecs import ANY, CSV, JSON, NPY, OCTET_STREAM, UTF8_TYPES

NPZ = "application/x-npz"
__all__ = ["ANY", "CSV", "JSON", "NPY", "NPZ", "OCTET_STREAM", "UTF8_TYPES"]
