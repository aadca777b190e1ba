"""`python -m emulator.serving.inference --image <uri>`: the process runner's `serve` for framework images.

Reads the serving environment as the framework containers do (SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY,
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, SAGEMAKER_BIND_TO_PORT), fetches the code, installs its
requirements.txt, imports the script, loads the model, then listens. Any failure before listening prints
its reason and exits 1, so the emulator reports it with these log lines.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback

from emulator.serving.inference import code, handlers
from emulator.serving.inference.server import InferenceServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.serving.inference")
    parser.add_argument("--image", default="", help="the model's image URI (chooses the framework defaults)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 inside a container)")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    framework = handlers.framework_of(arguments.image)
    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    code.add_image_helpers_to_path()
    try:
        module = code.load_user_module(model_dir)
        handler = handlers.InferenceHandler(
            module,
            framework,
            model_dir,
            os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "application/json",
        )
        handler.load_model()
        server = InferenceServer(port, handler, host=arguments.host)
    except Exception as error:
        traceback.print_exc()
        print(f"inference server: cannot start: {type(error).__name__}: {error}", flush=True)
        return 1
    print(
        f"inference server ({framework} defaults) listening on port {port}, ready in {time.monotonic() - started:.2f}s",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
