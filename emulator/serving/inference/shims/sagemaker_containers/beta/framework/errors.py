"""Error classes scripts catch or raise."""

from emulator.serving.inference.codecs import UnsupportedFormatError


class ClientError(Exception):
    """Error class used to separate framework and user errors."""


__all__ = ["ClientError", "UnsupportedFormatError"]
