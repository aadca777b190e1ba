"""`sagemaker_xgboost_container.encoder`: request bodies to XGBoost DMatrix objects, as the image decodes them.

- `csv_to_dmatrix(text, dtype=None)`: the delimiter is sniffed from the first line (an alphanumeric guess means
  ","), empty fields become NaN, values are floats.
- `libsvm_to_dmatrix(text)`: `label idx:value ...` rows; 1-based indices are shifted to 0-based.
- `decode(body, content_type)`: by media type (parameters ignored): text/csv, text/libsvm, text/x-libsvm;
  anything else raises `UnsupportedFormatError` (415).
- `json_to_jsonlines(data)`: `{"key": [a, b]}` → one JSON line per entry.

Returns `xgboost.DMatrix` when xgboost is installed, else the NumPy array it would wrap.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from emulator.serving.inference.codecs import UnsupportedFormatError

CSV = "text/csv"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
X_RECORDIO_PROTOBUF = "application/x-recordio-protobuf"

__all__ = ["UnsupportedFormatError", "csv_to_dmatrix", "decode", "json_to_jsonlines", "libsvm_to_dmatrix"]


def _dmatrix(array: np.ndarray) -> Any:
    try:
        import xgboost
    except ImportError:
        return array
    return xgboost.DMatrix(array)


def _text(data: str | bytes) -> str:
    return data.decode("utf-8") if isinstance(data, bytes | bytearray) else data


def _delimiter(first_line: str) -> str:
    try:
        guessed = csv.Sniffer().sniff(first_line[:512]).delimiter
    except csv.Error:
        return ","
    return "," if guessed.isalnum() else guessed


def csv_to_dmatrix(data: str | bytes, dtype: Any = None) -> Any:
    text = _text(data)
    delimiter = _delimiter(text.split("\n", 1)[0])
    rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
    return _dmatrix(np.array(rows).astype(dtype if dtype is not None else np.float64))


def libsvm_to_dmatrix(data: str | bytes) -> Any:
    rows: list[dict[int, float]] = []
    for line in _text(data).strip().split("\n"):
        row: dict[int, float] = {}
        for token in line.split():
            if ":" in token:
                index, value = token.split(":", 1)
                row[int(index)] = float(value)
        rows.append(row)
    if not any(rows):
        return _dmatrix(np.empty((0, 0)))
    indices = [index for row in rows for index in row]
    offset = 1 if min(indices) >= 1 else 0
    matrix = np.zeros((len(rows), max(indices) - offset + 1))
    for number, entries in enumerate(rows):
        for column, number_value in entries.items():
            matrix[number, column - offset] = number_value
    return _dmatrix(matrix)


_DECODERS = {CSV: csv_to_dmatrix, LIBSVM: libsvm_to_dmatrix, X_LIBSVM: libsvm_to_dmatrix}


def decode(obj: Any, content_type: str) -> Any:
    media_type = content_type.split(";", 1)[0].strip()
    decoder = _DECODERS.get(media_type)
    if decoder is None:
        raise UnsupportedFormatError(media_type)
    return decoder(obj)


def json_to_jsonlines(json_data: Any) -> bytes:
    document = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(document) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    stream = io.BytesIO()
    for entries in document.values():
        for entry in entries:
            stream.write((json.dumps(entry) + "\n").encode("utf-8"))
    return stream.getvalue()
