"""The one error hierarchy: every failure the library reports is a ContextError with a protocol code.

Messages are one human sentence naming the context, field or version at fault; ``details`` becomes the
JSON-RPC error's ``data`` (next to ``kind``). Never put server paths or tracebacks in either.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ContextError(Exception):
    """Base of every library error. ``code`` is the JSON-RPC error code of PROTOCOL.md."""

    code: ClassVar[int] = -32603
    kind: ClassVar[str] = "InternalError"
    audited = False  # set once the failure is in the audit log, so no layer records it twice

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_data(self) -> dict[str, Any]:
        """The ``data`` member of the JSON-RPC error."""
        return {"kind": self.kind, **self.details}


class InvalidParams(ContextError):
    code = -32602
    kind = "InvalidParams"


class VersionConflict(ContextError):
    code = -32001
    kind = "VersionConflict"


class ContextNotFound(ContextError):
    code = -32002
    kind = "ContextNotFound"


class SnapshotNotFound(ContextError):
    code = -32003
    kind = "SnapshotNotFound"


class InvalidState(ContextError):
    code = -32004
    kind = "InvalidState"


class PersistenceError(ContextError):
    code = -32005
    kind = "PersistenceError"


class LockError(PersistenceError):
    """The store stayed locked by another process for longer than the busy timeout."""

    kind = "LockError"


class StoreDamaged(PersistenceError):
    """The store file is damaged below its rows (SQLite cannot read a page of it, or its WAL):
    a writable store sets it aside and salvages it (store/salvage.py)."""


class StoreSalvaged(PersistenceError):
    """The store file was found damaged during this request, set aside and salvaged into a new
    one: nothing of the request was written, and it may be tried again."""


class AccessDenied(ContextError):
    code = -32006
    kind = "AccessDenied"


class RecoveryError(ContextError):
    code = -32007
    kind = "RecoveryError"


class NoValidSnapshot(RecoveryError):
    """Recovery found neither a valid version nor a valid snapshot to fall back to."""

    def __init__(self, message: str, **details: Any) -> None:
        details.setdefault("reason", "NoValidSnapshot")
        super().__init__(message, **details)


class SyncError(ContextError):
    """The cross-process change feed could not be read."""

    code = -32005
    kind = "SyncError"


class TooLarge(ContextError):
    code = -32008
    kind = "TooLarge"


class AlreadyExists(ContextError):
    code = -32009
    kind = "AlreadyExists"


class DataDamaged(RecoveryError):
    """A stored row failed authentication or its hash chain: it was altered, moved or is missing."""

    def __init__(self, message: str, **details: Any) -> None:
        details.setdefault("reason", "Damaged")
        super().__init__(message, **details)


def error_of_kind(kind: str, message: str, **details: Any) -> ContextError:
    """An error of the class whose ``kind`` is ``kind`` (a ContextError when none is), to hand on a
    failure known by its kind and message alone (an audit record of another process's failure)."""
    found: list[type[ContextError]] = [ContextError]
    for cls in found:
        found.extend(cls.__subclasses__())
    for cls in found:
        if cls.kind == kind and cls not in (NoValidSnapshot, DataDamaged):
            return cls(message, **details)
    return ContextError(message, **details)
