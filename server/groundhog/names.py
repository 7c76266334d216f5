"""Context names (docs/protocol.md, Conventions) and team members' names (docs/team.md)."""

from __future__ import annotations

import re

from groundhog.errors import InvalidParams

DEFAULT_CONTEXT = "default"
MAX_NAME_LENGTH = 128
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]+")
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,63}")


def validate_name(name: object, field: str = "name") -> str:
    """Return ``name`` if it is a valid context name, else raise InvalidParams naming ``field``."""
    if not isinstance(name, str):
        raise InvalidParams(f"The field {field!r} must be a context name string.", field=field)
    problem = _name_problem(name)
    if problem:
        raise InvalidParams(f"The context name in {field!r} is invalid: {problem}.", field=field)
    return name


def _name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"it must be 1 to {MAX_NAME_LENGTH} characters long"
    if not _ALLOWED.fullmatch(name):
        return "only letters, digits, '.', '_', '-' and '/' are allowed"
    if name[0] in "./":
        return "it must not start with '.' or '/'"
    segments = name.split("/")
    if any(segment == "" for segment in segments):
        return "it must not contain an empty segment"
    if any(segment in (".", "..") for segment in segments):
        return "it must not contain a '.' or '..' segment"
    return None


def member_name(text: str) -> str:
    if not isinstance(text, str) or not _MEMBER_NAME.fullmatch(text):
        raise InvalidParams(
            "A member name is 1 to 64 letters, digits, spaces or '._@+-', starting with a letter or digit.",
            field="name",
        )
    return text
