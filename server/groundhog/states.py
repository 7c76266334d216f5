"""The library's models from the store's records: a ContextState from a StoredState (values decoded,
metadata copied so the caller owns them), a ContextSnapshot from a snapshot's record and state."""

from __future__ import annotations

import copy
from typing import Any

from groundhog.model import ContextSnapshot, ContextState
from groundhog.store.codec import decode_values
from groundhog.store.records import SnapshotInfo, StoredState


def to_context_state(state: StoredState) -> ContextState:
    return ContextState(
        version=state.version,
        data=decode_values(state.values),
        last_modified=state.last_modified,
        metadata=copy.deepcopy(state.metadata),
    )


def to_snapshot(info: SnapshotInfo, state: StoredState, editor: dict[str, Any] | None) -> ContextSnapshot:
    return ContextSnapshot(
        id=info.id,
        context=info.context,
        timestamp=info.timestamp,
        state=to_context_state(state),
        label=info.label,
        metadata=info.metadata,
        size_bytes=info.size,
        kind=info.kind,
        editor=editor,
    )
