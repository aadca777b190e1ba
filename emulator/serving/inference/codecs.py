"""The framework containers' default request decoding and response encoding: JSON, CSV and NPY.

Behaviour as in SageMaker's framework serving stacks: content types are matched exactly
(`text/csv; charset=utf-8` is not `text/csv`); JSON decodes to `np.array(json.loads(...))`; CSV decodes
to an array of strings, squeezed (the scikit-learn defaults then cast to float32); NPY allows pickles.
Encoding: JSON through `tolist()`, CSV one row per line (a 1-D array becomes a column), NPY by `np.save`.
An unknown content type raises `UnsupportedFormatError` (answered with 415 on input, 406 on output).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
OCTET_STREAM = "application/octet-stream"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)


class UnsupportedFormatError(Exception):
    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "Please implement input_fn to to deserialize the request data or an output_fn to\n"
            "serialize the response. For more information, see the SageMaker Python SDK README."
        )


class DecodeError(ValueError):
    """The body does not parse as its content type says."""


def json_to_numpy(text: str | bytes, dtype: Any = None) -> np.ndarray:
    return np.array(json.loads(text), dtype=dtype)


def csv_to_numpy(text: str | bytes, dtype: Any = None) -> np.ndarray:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', doublequote=True, strict=True))
        array = np.array(rows).squeeze()
        return array.astype(dtype) if dtype is not None else array
    except (csv.Error, ValueError) as error:
        raise DecodeError(f"Error while decoding csv: {error}") from None


def npy_to_numpy(data: bytes) -> Any:
    return np.load(io.BytesIO(data), allow_pickle=True)


def array_to_json(value: Any) -> str:
    def default(item: Any) -> Any:
        if hasattr(item, "tolist"):
            return item.tolist()
        raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")

    return json.dumps(value, default=default)


def array_to_csv(value: Any) -> str:
    array = np.array(value)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    elif array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    stream = io.StringIO()
    csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True).writerows(array)
    return stream.getvalue()


def array_to_npy(value: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


_DECODERS: dict[str, Callable[[Any], Any]] = {JSON: json_to_numpy, CSV: csv_to_numpy, NPY: npy_to_numpy}
_ENCODERS: dict[str, Callable[[Any], Any]] = {JSON: array_to_json, CSV: array_to_csv, NPY: array_to_npy}


def decode(data: Any, content_type: str) -> Any:
    decoder = _DECODERS.get(content_type)
    if decoder is None:
        raise UnsupportedFormatError(content_type)
    return decoder(data)


def encode(value: Any, content_type: str) -> Any:
    encoder = _ENCODERS.get(content_type)
    if encoder is None:
        raise UnsupportedFormatError(content_type)
    return encoder(value)
