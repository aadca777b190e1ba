"""Error classes of the inference toolkit."""

from emulator.serving.inference.codecs import UnsupportedFormatError


class GenericInferenceToolkitError(Exception):
    def __init__(self, status_code: int, message: str | None = None, phrase: str | None = None) -> None:
        self.status_code = status_code
        self.message = message or ""
        self.phrase = phrase or self.message
        super().__init__(status_code, self.message, self.phrase)


__all__ = ["GenericInferenceToolkitError", "UnsupportedFormatError"]
