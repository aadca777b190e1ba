"""The framework inference server the process runner runs as `serve` for SageMaker's framework images.

`python -m emulator.serving.inference --image <uri>` (see `__main__`): loads the user's inference script
(`code`), applies the handler convention with the framework's defaults (`handlers`, `codecs`) and answers
the serving contract over HTTP (`server`). `shims/` holds importable stand-ins for the helper modules that
user scripts import from inside the framework images.

Not for: the docker runner (containers bring their own server) or TensorFlow Serving's SavedModel contract.
"""
