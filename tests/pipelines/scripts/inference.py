"""Serve the linear model: CSV rows of x in, one prediction per row out."""

import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    values = np.asarray(data, dtype=float).reshape(-1)
    return model["slope"] * values + model["intercept"]
