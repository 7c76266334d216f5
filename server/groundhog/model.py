"""The library's public models: a state's working copy, immutable snapshots, history entries and the
editor shape. Pydantic models so the LSP layer can validate and dump them with one tool."""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HistoryKind = Literal["create", "update", "merge", "rollback", "restore", "recover"]


class ContextState(BaseModel):
    """A working copy of one version of a context. ``set``/``remove`` edit the copy; hand it to
    ``ContextTracker.update_state`` to make it the next version (if ``version`` is still the head)."""

    version: int
    data: dict[str, Any] = Field(default_factory=dict)
    last_modified: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def remove(self, key: str) -> Any:
        return self.data.pop(key, None)

    def keys(self) -> list[str]:
        return list(self.data)

    def copy_state(self) -> ContextState:
        """A deep copy: editing it never reaches the original."""
        return ContextState(
            version=self.version,
            data=copy.deepcopy(self.data),
            last_modified=self.last_modified,
            metadata=copy.deepcopy(self.metadata),
        )


class ContextSnapshot(BaseModel):
    """An immutable capture of a context's state (and editor state) at one version."""

    model_config = ConfigDict(frozen=True)

    id: str
    context: str
    timestamp: str
    state: ContextState
    label: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    size_bytes: int = 0
    kind: str = "snapshot"  # or "recoveryPoint" (made by a rollback)
    editor: dict[str, Any] | None = None

    @property
    def version(self) -> int:
        return self.state.version


class HistoryEntry(BaseModel):
    """One version in a context's history."""

    model_config = ConfigDict(frozen=True)

    version: int
    timestamp: str
    kind: HistoryKind
    session: str
    changed_keys: list[str]

    def to_wire(self) -> dict[str, Any]:
        """The protocol's history entry (``context/history``, ``groundhog log --json``)."""
        return {
            "version": self.version,
            "timestamp": self.timestamp,
            "kind": self.kind,
            "session": self.session,
            "changedKeys": self.changed_keys,
        }


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Position(_Camel):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(_Camel):
    start: Position
    end: Position


class Selection(_Camel):
    uri: str
    ranges: list[Range]


class OpenDocument(_Camel):
    uri: str
    language_id: str = Field("", alias="languageId")
    version: int | None = None
    dirty: bool = False


class EditorState(_Camel):
    """The one editor shape of the protocol: open documents, active document, selections."""

    open_documents: list[OpenDocument] = Field(default_factory=list, alias="openDocuments")
    active_uri: str | None = Field(None, alias="activeUri")
    selections: list[Selection] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")
