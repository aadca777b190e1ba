"""Serving for the linear regression: CSV rows or JSON Lines `{"features": [...]}` in; one score per line out."""

import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    text = body if isinstance(body, str) else body.decode("utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if content_type == "text/csv":
        return np.array([[float(value) for value in line.split(",")] for line in lines])
    if content_type in ("application/json", "application/jsonlines"):
        records = [json.loads(line) for line in lines]
        return np.array([record["features"] if isinstance(record, dict) else record for record in records], float)
    raise ValueError(f"unsupported content type {content_type}")


def predict_fn(data, model):
    return model.predict(data)


def output_fn(prediction, accept):
    if accept == "application/jsonlines":
        return "".join(json.dumps({"score": float(value)}) + "\n" for value in prediction), accept
    return "".join(repr(float(value)) + "\n" for value in prediction), "text/csv"
