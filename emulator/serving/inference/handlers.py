"""The inference handler convention of SageMaker's framework containers, applied to a user module.

A user script (SAGEMAKER_PROGRAM, from SAGEMAKER_SUBMIT_DIRECTORY) may define `model_fn(model_dir)`,
`input_fn(body, content_type)`, `predict_fn(data, model)`, `output_fn(prediction, accept)`, or
`transform_fn(model, body, content_type, accept)` instead of the last three (both together is an error), and
`execution_parameters_fn()`. Every handler may take one more argument, a request `context`, as the inference
toolkit allows. Missing handlers fall back to the framework's defaults (`FRAMEWORK_DEFAULTS`):

- scikit-learn: decode JSON/CSV/NPY, cast JSON and CSV to float32, `model.predict`, encode by Accept.
- XGBoost: decode with the container's encoder (CSV, LIBSVM → DMatrix), `model.predict(..,
  validate_features=False)`, encode by Accept.
- PyTorch: load TorchScript `model.pt`/`model.pth` when there is no `model_fn`, tensors in and out.
- others: decode/encode only; `model_fn` and `predict_fn` must come from the script.

Bodies of `application/json` and `text/csv` reach `input_fn` as text, others as bytes. An empty or `*/*`
Accept means SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default `application/json`). A handler may return bytes,
str, a `(body, content_type)` tuple, or a response object (`.get_data()`/`.response`, `.mimetype`, `.status`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from emulator.serving.inference import codecs


class UserError(Exception):
    """The user module breaks the handler convention (shown in the serving log; the host exits)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestContext:
    """What a handler that takes a `context` argument sees of the request (inference toolkit style)."""

    headers: Mapping[str, str]
    model_dir: str

    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir}

    @property
    def request_processor(self) -> list[_RequestProcessor]:
        return [_RequestProcessor(self.headers)]


@dataclass(frozen=True)
class _RequestProcessor:
    headers: Mapping[str, str]

    def get_request_properties(self) -> dict[str, str]:
        return dict(self.headers)


# -- framework defaults ----------------------------------------------------------------------------------


def _model_fn_required(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation.\n"
        "See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/"
    )


def _predict_fn_required(data: Any, model: Any) -> Any:
    raise NotImplementedError(
        "Please provide a predict_fn implementation.\n"
        "See documentation for predict_fn at https://sagemaker.readthedocs.io/en/stable/"
    )


def _generic_input_fn(body: Any, content_type: str) -> Any:
    return codecs.decode(body, content_type)


def _generic_output_fn(prediction: Any, accept: str) -> Any:
    return codecs.encode(prediction, accept), accept


def _sklearn_input_fn(body: Any, content_type: str) -> Any:
    import numpy as np

    array = codecs.decode(body, content_type)
    return array.astype(np.float32) if content_type in codecs.UTF8_TYPES else array


def _predict_with_model(data: Any, model: Any) -> Any:
    return model.predict(data)


def _xgboost_input_fn(body: Any, content_type: str) -> Any:
    from sagemaker_xgboost_container import encoder  # the image's helper (our stand-in when not installed)

    return encoder.decode(body, content_type)


def _xgboost_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data, validate_features=False)


def _pytorch_model_fn(model_dir: str) -> Any:
    try:
        import torch
    except ImportError:
        raise UserError("The PyTorch default model_fn needs torch, which is not installed here.") from None
    for name in ("model.pt", "model.pth"):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            model = torch.jit.load(path, map_location=torch.device("cpu"))
            model.eval()
            return model
    raise FileNotFoundError(f"Failed to load model with default model_fn: missing file model.pt in {model_dir}.")


def _pytorch_input_fn(body: Any, content_type: str) -> Any:
    import torch

    return torch.FloatTensor(codecs.decode(body, content_type))


def _pytorch_predict_fn(data: Any, model: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(data)


def _pytorch_output_fn(prediction: Any, accept: str) -> Any:
    if hasattr(prediction, "cpu"):
        prediction = prediction.detach().cpu().numpy().tolist()
    return codecs.encode(prediction, accept), accept


@dataclass(frozen=True)
class Defaults:
    model_fn: Callable[..., Any]
    input_fn: Callable[..., Any]
    predict_fn: Callable[..., Any]
    output_fn: Callable[..., Any]


_GENERIC = Defaults(_model_fn_required, _generic_input_fn, _predict_fn_required, _generic_output_fn)
FRAMEWORK_DEFAULTS: dict[str, Defaults] = {
    "sklearn": Defaults(_model_fn_required, _sklearn_input_fn, _predict_with_model, _generic_output_fn),
    "xgboost": Defaults(_model_fn_required, _xgboost_input_fn, _xgboost_predict_fn, _generic_output_fn),
    "pytorch": Defaults(_pytorch_model_fn, _pytorch_input_fn, _pytorch_predict_fn, _pytorch_output_fn),
    "generic": _GENERIC,
}


def framework_of(image: str) -> str:
    """`…/sagemaker-scikit-learn:1.2-1-cpu-py3` → "sklearn" (by repository name, like the process runner)."""
    repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    if "scikit-learn" in repository:
        return "sklearn"
    if "xgboost" in repository:
        return "xgboost"
    if "pytorch" in repository and "huggingface" not in repository:
        return "pytorch"
    return "generic"


# -- the handler ----------------------------------------------------------------------------------------


class InferenceHandler:
    """The loaded model and the handler functions; `invoke` turns one request into a `Reply`."""

    def __init__(self, module: ModuleType | None, framework: str, model_dir: str, default_accept: str) -> None:
        defaults = FRAMEWORK_DEFAULTS.get(framework, _GENERIC)
        user = _user_functions(module)
        if user.get("transform_fn") and any(user.get(name) for name in ("input_fn", "predict_fn", "output_fn")):
            raise UserError(
                "Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, and/or "
                "output_fn implementation"
            )
        self.model_dir = model_dir
        self.default_accept = default_accept
        self._model_fn = user.get("model_fn") or defaults.model_fn
        self._input_fn = user.get("input_fn") or defaults.input_fn
        self._predict_fn = user.get("predict_fn") or defaults.predict_fn
        self._output_fn = user.get("output_fn") or defaults.output_fn
        self._transform_fn = user.get("transform_fn")
        self._execution_parameters_fn = user.get("execution_parameters_fn")
        self.model: Any = None

    def load_model(self) -> None:
        self.model = _call(self._model_fn, (self.model_dir,), None)

    def invoke(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        content_type = headers.get("content-type") or codecs.JSON
        accept = headers.get("accept") or ""
        if not accept or accept == codecs.ANY:
            accept = self.default_accept
        context = RequestContext(headers, self.model_dir)
        data: Any = body.decode("utf-8") if content_type in codecs.UTF8_TYPES else body
        try:
            if self._transform_fn is not None:
                result = _call(self._transform_fn, (self.model, data, content_type, accept), context)
            else:
                result = self._default_transform(data, content_type, accept, context)
        except codecs.UnsupportedFormatError as error:
            return _error_reply(error, 415)
        except Exception as error:
            trace = traceback.format_exc()
            print(trace, flush=True)
            message = f"{type(error).__name__}: {error}\n{trace}"
            return Reply(500, message.encode("utf-8", "replace"), "text/plain")
        return to_reply(result, accept)

    def _default_transform(self, data: Any, content_type: str, accept: str, context: RequestContext) -> Any:
        decoded = _call(self._input_fn, (data, content_type), context)
        prediction = _call(self._predict_fn, (decoded, self.model), context)
        try:
            return _call(self._output_fn, (prediction, accept), context)
        except codecs.UnsupportedFormatError as error:
            return _error_reply(error, 406)

    def execution_parameters(self) -> Reply | None:
        """The script's execution parameters, or None when it defines none (the route answers 404)."""
        if self._execution_parameters_fn is None:
            return None
        return to_reply(self._execution_parameters_fn(), codecs.JSON)


def _user_functions(module: ModuleType | None) -> dict[str, Callable[..., Any]]:
    names = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", "execution_parameters_fn")
    if module is None:
        return {}
    return {name: getattr(module, name) for name in names if callable(getattr(module, name, None))}


def _call(function: Callable[..., Any], arguments: tuple[Any, ...], context: RequestContext | None) -> Any:
    """Call a handler, adding the request context when it takes one more positional argument."""
    if context is not None and _positional_count(function) > len(arguments):
        return function(*arguments, context)
    return function(*arguments)


def _positional_count(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 0
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for parameter in parameters if parameter.kind in kinds)


def _error_reply(error: Exception, status: int) -> Reply:
    body = {"error": type(error).__name__, "error-message": str(error), "stack-trace": traceback.format_exc()}
    return Reply(status, json.dumps(body).encode(), codecs.JSON)


def to_reply(result: Any, accept: str) -> Reply:
    """Whatever a handler returned, as status, body bytes and content type."""
    if isinstance(result, Reply):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type = result
        return Reply(200, _bytes(body), str(content_type or accept))
    if hasattr(result, "get_data") or hasattr(result, "response"):
        return _response_object(result, accept)
    if isinstance(result, dict | list):
        return Reply(200, json.dumps(result).encode(), accept)
    return Reply(200, _bytes(result), accept)


def _response_object(result: Any, accept: str) -> Reply:
    body = result.get_data() if hasattr(result, "get_data") else result.response
    status: Any = getattr(result, "status_code", None) or getattr(result, "status", None) or 200
    if isinstance(status, str):
        status = int(status.split()[0])
    content_type = getattr(result, "mimetype", None) or getattr(result, "content_type", None) or accept
    return Reply(int(status), _bytes(body), str(content_type))


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, list | tuple) and all(isinstance(part, bytes | str) for part in body):
        return b"".join(_bytes(part) for part in body)
    return str(body).encode("utf-8")


def import_user_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            raise UserError(f"The inference script {name}.py was not found in the submitted code.") from None
        raise
