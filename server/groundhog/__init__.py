"""Groundhog: named, versioned, encrypted contexts for AI coding assistants.

The package root re-exports the library API; nothing here imports pygls (only ``groundhog.lsp`` does).
"""

from groundhog.adapter import ContextAdapter, ContextStatus, create_adapter
from groundhog.changes import Change
from groundhog.errors import (
    AccessDenied,
    AlreadyExists,
    ContextError,
    ContextNotFound,
    InvalidParams,
    InvalidState,
    LockError,
    NoValidSnapshot,
    PersistenceError,
    RecoveryError,
    SnapshotNotFound,
    SyncError,
    TooLarge,
    VersionConflict,
)
from groundhog.manager import ContextManager
from groundhog.model import ContextSnapshot, ContextState, EditorState, HistoryEntry
from groundhog.opening import create_manager
from groundhog.subscriptions import ContextSubscriber
from groundhog.tracker import ContextTracker, ContextTrackerFactory, TrackerConfig

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "Change",
    "ContextAdapter",
    "ContextError",
    "ContextManager",
    "ContextNotFound",
    "ContextSnapshot",
    "ContextState",
    "ContextStatus",
    "ContextSubscriber",
    "ContextTracker",
    "ContextTrackerFactory",
    "EditorState",
    "HistoryEntry",
    "InvalidParams",
    "InvalidState",
    "LockError",
    "NoValidSnapshot",
    "PersistenceError",
    "RecoveryError",
    "SnapshotNotFound",
    "SyncError",
    "TooLarge",
    "TrackerConfig",
    "VersionConflict",
    "create_adapter",
    "create_manager",
]
