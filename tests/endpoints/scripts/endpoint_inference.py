"""An inference script for endpoint tests (scikit-learn framework image, process runner).

Answers every request with JSON telling what it received and which model and host served it. A body that
starts with `fail` raises, so the server answers 500. SERVE_FAIL_ON_LOAD makes model loading fail.
"""

import json
import os


def model_fn(model_dir):
    if os.environ.get("SERVE_FAIL_ON_LOAD"):
        raise RuntimeError(f"cannot load the model: {os.environ['SERVE_FAIL_ON_LOAD']}")
    with open(os.path.join(model_dir, "model.json")) as stream:
        return json.load(stream)


def transform_fn(model, body, content_type, accept):
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    if text.startswith("fail"):
        raise ValueError(f"the model was asked to fail: {text}")
    answer = {
        "model": model,
        "body": text,
        "content_type": content_type,
        "accept": accept,
        "tag": os.environ.get("SERVE_TAG", ""),
        "pid": os.getpid(),
    }
    return json.dumps(answer), "application/json"
