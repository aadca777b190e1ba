"""The framework inference convention as `emulator.serving.inference` applies it (pure: no server, no process):
default decoding and encoding, handler fallbacks per framework, the optional context argument, reply shapes,
errors with the status codes the framework containers use, and the XGBoost encoder stand-in."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import numpy as np
import pytest

from emulator.serving.inference import code, codecs
from emulator.serving.inference.handlers import InferenceHandler, UserError, framework_of


def module(**functions: Any) -> types.ModuleType:
    created = types.ModuleType("user_inference")
    for name, function in functions.items():
        setattr(created, name, function)
    return created


class Doubler:
    def predict(self, data: Any) -> Any:
        return np.asarray(data) * 2


def handler(framework: str = "sklearn", **functions: Any) -> InferenceHandler:
    functions.setdefault("model_fn", lambda model_dir: Doubler())
    loaded = InferenceHandler(module(**functions), framework, "/opt/ml/model", "application/json")
    loaded.load_model()
    return loaded


def test_framework_by_repository() -> None:
    assert (
        framework_of("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3") == "sklearn"
    )
    assert framework_of("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1") == "xgboost"
    assert framework_of("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310") == "pytorch"
    assert framework_of("huggingface-pytorch-inference:2.1") == "generic"


def test_codecs() -> None:
    assert codecs.csv_to_numpy("1,2\n3,4").tolist() == [["1", "2"], ["3", "4"]]
    assert codecs.csv_to_numpy("1,2").tolist() == ["1", "2"]  # squeezed, as the containers do
    assert codecs.json_to_numpy("[[1, 2]]").tolist() == [[1, 2]]
    assert codecs.decode(codecs.array_to_npy(np.arange(3)), codecs.NPY).tolist() == [0, 1, 2]
    assert codecs.array_to_csv(np.array([1.5, 2.0])) == "1.5\n2.0\n"
    assert codecs.array_to_csv([[1, 2], [3, 4]]) == "1,2\n3,4\n"
    assert json.loads(codecs.array_to_json(np.array([[1, 2]]))) == [[1, 2]]
    with pytest.raises(codecs.UnsupportedFormatError, match="Content type text/plain is not supported"):
        codecs.decode("x", "text/plain")
    with pytest.raises(codecs.UnsupportedFormatError):
        codecs.decode("1,2", "text/csv; charset=utf-8")  # matched exactly


def test_sklearn_defaults_decode_predict_encode() -> None:
    reply = handler().invoke(b"1,2\n3,4", {"content-type": "text/csv", "accept": "text/csv"})
    assert (reply.status, reply.content_type, reply.body) == (200, "text/csv", b"2.0,4.0\n6.0,8.0\n")
    reply = handler().invoke(b"[1, 2]", {"content-type": "application/json", "accept": "*/*"})
    assert (reply.status, reply.content_type, json.loads(reply.body)) == (200, "application/json", [2.0, 4.0])


def test_unsupported_content_type_and_accept() -> None:
    reply = handler().invoke(b"x", {"content-type": "text/plain"})
    assert reply.status == 415 and json.loads(reply.body)["error"] == "UnsupportedFormatError"
    reply = handler().invoke(b"[1]", {"content-type": "application/json", "accept": "image/png"})
    assert reply.status == 406


def test_user_handlers_replace_defaults_and_may_take_a_context() -> None:
    seen: dict[str, Any] = {}

    def input_fn(body: str, content_type: str, context: Any) -> Any:
        seen["headers"] = context.request_processor[0].get_request_properties()
        return [len(body)]

    loaded = handler(
        input_fn=input_fn,
        predict_fn=lambda data, model: {"length": data[0]},
        output_fn=lambda prediction, accept: (json.dumps(prediction), "application/vnd.custom"),
    )
    reply = loaded.invoke(b"hello", {"content-type": "text/csv", "x-amzn-sagemaker-custom-attributes": "a=1"})
    assert (reply.status, reply.content_type, json.loads(reply.body)) == (200, "application/vnd.custom", {"length": 5})
    assert seen["headers"]["x-amzn-sagemaker-custom-attributes"] == "a=1"


def test_transform_fn_and_response_objects() -> None:
    class Response:
        def __init__(self) -> None:
            self.response, self.status, self.mimetype = ["a", "b"], 201, "text/plain"

    reply = handler(transform_fn=lambda model, body, content_type, accept: Response()).invoke(b"x", {})
    assert (reply.status, reply.content_type, reply.body) == (201, "text/plain", b"ab")
    with pytest.raises(UserError, match="Cannot use transform_fn implementation in conjunction"):
        handler(transform_fn=lambda *args: b"", input_fn=lambda *args: None)


def test_errors_are_500_with_the_message() -> None:
    def predict_fn(data: Any, model: Any) -> Any:
        raise ValueError("bad record")

    reply = handler(predict_fn=predict_fn).invoke(b"[1]", {"content-type": "application/json"})
    assert reply.status == 500 and reply.body.startswith(b"ValueError: bad record\n")


def test_a_missing_model_fn_is_reported_at_load() -> None:
    loaded = InferenceHandler(module(), "sklearn", "/opt/ml/model", "application/json")
    with pytest.raises(NotImplementedError, match="Please provide a model_fn implementation"):
        loaded.load_model()


def test_execution_parameters_come_from_the_script() -> None:
    assert handler().execution_parameters() is None
    parameters = {"MaxConcurrentTransforms": 2, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 1}
    reply = handler(execution_parameters_fn=lambda: parameters).execution_parameters()
    assert reply is not None and json.loads(reply.body) == parameters


def test_xgboost_encoder_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [*sys.path])
    code.add_image_helpers_to_path()
    from sagemaker_xgboost_container import encoder

    matrix = encoder.decode("1,,3\n4,5,6", "text/csv; charset=utf-8")
    assert (matrix.num_row(), matrix.num_col()) == (2, 3)
    sparse = encoder.decode(b"0 1:1.5 3:2\n1 2:4", "text/libsvm")
    assert (sparse.num_row(), sparse.num_col()) == (2, 3)
    assert encoder.json_to_jsonlines({"predictions": [{"score": 1}, {"score": 2}]}) == b'{"score": 1}\n{"score": 2}\n'
    with pytest.raises(codecs.UnsupportedFormatError):
        encoder.decode("{}", "application/json")
