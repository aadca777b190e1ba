"""Parse and validate a pipeline definition (schema Version "2020-12-01") — pure, no I/O.

`validate_definition(text)` returns the parsed document or raises `DefinitionError` whose message names
the offending step or parameter; the API turns it into a `ValidationException`.
"""

from __future__ import annotations

import json
from typing import Any


class DefinitionError(ValueError):
    """The definition is not one the service would accept; the message says why."""


def validate_definition(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise DefinitionError(f"Pipeline definition is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DefinitionError("Pipeline definition must be a JSON object")
    return document
