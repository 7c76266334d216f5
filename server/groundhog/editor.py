"""A session's live editor context: open documents, the active document, selections.

Kept in memory and changed by notifications; the session persists it (see Session.flush_editor).
Keystrokes (``didChange``) only touch memory: they never create versions. What it writes out is the
one editor shape defined by ``groundhog.model.EditorState`` (a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LiveDocument:
    uri: str
    language_id: str
    version: int | None
    dirty: bool = False


@dataclass
class EditorContext:
    documents: dict[str, LiveDocument] = field(default_factory=dict)
    active_uri: str | None = None
    selections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: bool = False  # since the last flush
    touched: bool = False  # any editor event since the session started (decision 20)

    def _mark(self) -> None:
        self.changed = self.touched = True

    def opened(self, uri: str, language_id: str, version: int | None) -> None:
        self.documents[uri] = LiveDocument(uri, language_id, version)
        self._mark()

    def edited(self, uri: str, version: int | None) -> None:
        document = self.documents.get(uri)
        if document is not None:
            document.version, document.dirty = version, True
            self._mark()

    def saved(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is not None:
            document.dirty = False
            self._mark()

    def closed(self, uri: str) -> None:
        self.documents.pop(uri, None)
        self.selections.pop(uri, None)
        if self.active_uri == uri:
            self.active_uri = None
        self._mark()

    def focused(self, active_uri: str | None, selections: list[dict[str, Any]] | None) -> None:
        if active_uri is not None:
            self.active_uri = active_uri
        for selection in selections or ():
            self.selections[selection["uri"]] = selection["ranges"]
        self._mark()

    def to_wire(self) -> dict[str, Any]:
        # The worker thread persists this while the loop thread may apply a notification: list()
        # copies each dict in one C call under the GIL, so iteration never sees it change size.
        documents, selections = list(self.documents.values()), list(self.selections.items())
        return {
            "openDocuments": [
                {"uri": d.uri, "languageId": d.language_id, "version": d.version, "dirty": d.dirty}
                for d in documents
            ],
            "activeUri": self.active_uri,
            "selections": [{"uri": uri, "ranges": ranges} for uri, ranges in selections],
        }


EMPTY_EDITOR: dict[str, Any] = {"openDocuments": [], "activeUri": None, "selections": []}
