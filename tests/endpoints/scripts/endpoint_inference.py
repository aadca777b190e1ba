"""An inference script for endpoint tests (scikit-learn framework image, process runner).

Answers every request with JSON telling what it received (body, content type, accept, custom attributes)
and which model and process served it. A body that starts with `fail` raises, so the server answers 500.
SERVE_FAIL_ON_LOAD makes model loading fail; SERVE_LOAD_SECONDS makes it slow.
"""

import json
import os
import time


def model_fn(model_dir):
    print("loading the model", flush=True)
    time.sleep(float(os.environ.get("SERVE_LOAD_SECONDS", "0")))
    if os.environ.get("SERVE_FAIL_ON_LOAD"):
        raise RuntimeError(f"cannot load the model: {os.environ['SERVE_FAIL_ON_LOAD']}")
    with open(os.path.join(model_dir, "model.json")) as stream:
        return json.load(stream)


def transform_fn(model, body, content_type, accept, context=None):
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    if text.startswith("fail"):
        raise ValueError(f"the model was asked to fail: {text}")
    answer = {
        "model": model,
        "body": text,
        "content_type": content_type,
        "accept": accept,
        "custom_attributes": _headers(context).get("x-amzn-sagemaker-custom-attributes"),
        "tag": os.environ.get("SERVE_TAG", ""),
        "pid": os.getpid(),
    }
    return json.dumps(answer), "application/json"


def _headers(context):
    """Request headers, from the request context the inference toolkit passes as a last argument."""
    return context.request_processor[0].get_request_properties() if context is not None else {}
