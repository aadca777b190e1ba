"""Checks that keep paths from requests inside a job's directory (pure)."""

from __future__ import annotations

from pathlib import PurePosixPath

from emulator.api.errors import ValidationError


def check_relative_path(value: str, what: str) -> None:
    """A name used as a path component must not climb out (`..`) or be absolute."""
    parts = PurePosixPath(value).parts
    if not value or value.startswith("/") or ".." in parts:
        raise ValidationError(f"Invalid {what}: it must be a relative path without '..'")


def check_container_path(value: str, what: str) -> None:
    """An absolute path inside the job (e.g. a processing LocalPath) without `..` components."""
    path = PurePosixPath(value)
    if not path.is_absolute() or ".." in path.parts or path == PurePosixPath("/"):
        raise ValidationError(f"Invalid {what} '{value}': it must be an absolute path below / without '..'")
