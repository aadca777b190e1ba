"""`decode(body, content_type)` / `encode(array, accept)` for JSON, CSV and NPY, plus the per-format functions."""

from emulator.serving.inference.codecs import (
    UnsupportedFormatError,
    array_to_csv,
    array_to_json,
    array_to_npy,
    csv_to_numpy,
    decode,
    encode,
    json_to_numpy,
    npy_to_numpy,
)

__all__ = [
    "UnsupportedFormatError",
    "array_to_csv",
    "array_to_json",
    "array_to_npy",
    "csv_to_numpy",
    "decode",
    "encode",
    "json_to_numpy",
    "npy_to_numpy",
]
