"""A diagnostic model for transform tests: one output line per input record telling how it was sent.

Each output line is `<record>|<records in this request>|<request bytes>|<requests in flight>|<pid>`.
A record containing `boom` makes the request fail with a 500. ECHO_SLEEP (seconds) slows every request, so
concurrent requests overlap. EXECUTION_PARAMETERS (JSON) is served on GET /execution-parameters.
"""

import json
import os
import threading
import time

_lock = threading.Lock()
_in_flight = 0


def model_fn(model_dir):
    return {"model_dir": model_dir}


def transform_fn(model, body, content_type, accept):
    global _in_flight
    with _lock:
        _in_flight += 1
        in_flight = _in_flight
    try:
        time.sleep(float(os.environ.get("ECHO_SLEEP", "0")))
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        if "boom" in text:
            raise ValueError("the model cannot score a record that says boom")
        records = [line for line in text.split("\n") if line.strip()]
        size = len(body if isinstance(body, bytes) else body.encode())
        lines = [f"{record}|{len(records)}|{size}|{in_flight}|{os.getpid()}" for record in records]
        return "\n".join(lines) + "\n", "text/plain"
    finally:
        with _lock:
            _in_flight -= 1


if os.environ.get("EXECUTION_PARAMETERS"):

    def execution_parameters_fn():
        return json.loads(os.environ["EXECUTION_PARAMETERS"])
