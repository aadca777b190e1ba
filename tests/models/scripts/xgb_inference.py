"""XGBoost serving that, like many users' scripts, decodes requests with the XGBoost container's encoder."""

import os

import xgboost as xgb
from sagemaker_xgboost_container import encoder as xgb_encoders


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


def input_fn(request_body, request_content_type):
    return xgb_encoders.decode(request_body, request_content_type)


def predict_fn(input_data, model):
    return model.predict(input_data)


def output_fn(predictions, content_type):
    return "".join(f"{float(value)!r}\n" for value in predictions), "text/csv"
