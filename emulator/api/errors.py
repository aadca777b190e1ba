"""AWS-style errors: small classes that carry data, rendered once at the edge as `{"__type", "message"}`.

Raise them anywhere in request handling. Codes and status codes follow what the real services return:
SageMaker answers 400 for client errors (including ResourceNotFound) and 500 only for its own faults.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base class: `code` becomes `__type`, `status` the HTTP status."""

    code = "InternalFailure"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


class ValidationError(ApiError):
    code = "ValidationException"


class SerializationError(ApiError):
    code = "SerializationException"


class UnknownOperation(ApiError):
    code = "UnknownOperationException"


class ResourceNotFound(ApiError):
    code = "ResourceNotFound"


class ResourceInUse(ApiError):
    code = "ResourceInUse"


class ResourceLimitExceeded(ApiError):
    code = "ResourceLimitExceeded"


class Conflict(ApiError):
    code = "ConflictException"


class InternalFailure(ApiError):
    code = "InternalFailure"
    status = 500
