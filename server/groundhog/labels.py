"""Limits on what describes a context or a snapshot, as opposed to its data: a snapshot's label and
the metadata of a context or a snapshot (docs/protocol.md, "Labels and metadata").

Why limits at all: a label is shown wherever snapshots are listed (``context/snapshots``, the
agents' ``resume`` brief, the editors' pickers) and metadata comes back with every ``context/get``,
so neither may crowd out the data they describe, and neither may make the answer to the write that
stored it too large to send (an agent's answers are capped: a write that committed must never
answer an error). Data has its own limit (``snapshotMaxBytes``).

- A label is at most 1,024 characters: a paragraph, far above any title a person or an agent
  gives a snapshot, and still one entry of a listing.
- Metadata is at most 4,096 bytes of compact JSON (UTF-8), for one request's object and for a
  context's metadata after an update merges into it (merges would otherwise grow it without
  bound): room for tags, an owner, a ticket and a few dozen flags, and still a small part of an
  agent's smallest answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from groundhog.errors import InvalidParams, TooLarge

MAX_LABEL_CHARS = 1024
MAX_METADATA_BYTES = 4096


def check_label(label: object, field: str = "label") -> None:
    """Refuse a label that is not a string or is over ``MAX_LABEL_CHARS`` (None: no label)."""
    if label is None:
        return
    if not isinstance(label, str):
        raise InvalidParams(f"The field {field!r} must be a string.", field=field)
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidParams(
            f"The field {field!r} is {len(label)} characters long; a label is at most "
            f"{MAX_LABEL_CHARS} characters.",
            field=field,
            limit=MAX_LABEL_CHARS,
            size=len(label),
        )


def metadata_size(metadata: dict[str, Any]) -> int:
    """The UTF-8 byte length of the compact JSON of ``metadata`` (what the limit counts)."""
    try:
        return len(orjson.dumps(metadata))
    except (TypeError, orjson.JSONEncodeError):
        raise InvalidParams("The field 'metadata' must hold JSON values only.", field="metadata") from None


def check_metadata(metadata: dict[str, Any] | None, field: str = "metadata") -> None:
    """Refuse one request's metadata over ``MAX_METADATA_BYTES`` (InvalidParams naming ``field``)."""
    if metadata is None:
        return
    size = metadata_size(metadata)
    if size > MAX_METADATA_BYTES:
        raise InvalidParams(
            f"The field {field!r} is {size} bytes of JSON; metadata is at most {MAX_METADATA_BYTES} bytes.",
            field=field,
            limit=MAX_METADATA_BYTES,
            size=size,
        )


def check_merged_metadata(metadata: dict[str, Any], context: str | None = None) -> None:
    """Refuse a context's metadata that an update's merge would take over the limit (TooLarge)."""
    size = metadata_size(metadata)
    if size > MAX_METADATA_BYTES:
        where = f"Context {context!r}'s" if context else "The context's"
        raise TooLarge(
            f"{where} metadata would be {size} bytes of JSON after this update; metadata is at most "
            f"{MAX_METADATA_BYTES} bytes.",
            limit=MAX_METADATA_BYTES,
            size=size,
            field="metadata",
        )
