"""A requested change to a context (set / remove / patch / metadata) and its effect on the head.

Works on encoded values (see store/codec.py): only the keys a change names are encoded or decoded, so a
1 KB change to a 1 MB state costs about 1 KB of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as KeySet
from dataclasses import dataclass, field
from typing import Any

from groundhog import patch as rfc6902  # our RFC 6902 module (not the jsonpatch library)
from groundhog.errors import InvalidParams
from groundhog.labels import check_merged_metadata, check_metadata
from groundhog.store.codec import (
    Payload,
    Values,
    decode_value,
    decode_values,
    encode_value,
    encode_value_strict,
    size_after,
)
from groundhog.store.records import StoredState


@dataclass
class Change:
    """What an update asks for. ``trusted_json`` says the values were parsed from JSON text (so they
    are plain JSON already); values built in Python are checked strictly."""

    set: dict[str, Any] | None = None
    remove: list[str] | None = None
    patch: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    replace_metadata: bool = False
    trusted_json: bool = False
    # keys the caller already found different as JSON (update_state): not compared again
    known_changed: frozenset[str] = frozenset()
    # encodings of ``set`` values the caller already made (update_state): not made again
    encoded: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _check_shapes(self)
        if self.patch is not None and (self.set is not None or self.remove is not None):
            raise InvalidParams("'set'/'remove' and 'patch' cannot be combined in one update.", field="patch")
        if self.patch is not None:
            rfc6902.check_ops(self.patch)
        both = {*(self.set or ())} & {*(self.remove or ())}
        if both:
            raise InvalidParams(f"The key {sorted(both)[0]!r} is both set and removed.", field="remove")

    def touched_keys(self) -> KeySet[str] | None:
        """The top-level keys this change touches; None means all of them (a patch on "")."""
        if self.patch is not None:
            return rfc6902.touched_keys(self.patch)
        return {*(self.set or ()), *(self.remove or ())}


def _check_shapes(change: Change) -> None:
    """Wrong types from Python callers are InvalidParams too, never an AttributeError half-way
    through a write (and a string ``remove`` is not a list of one-letter keys)."""
    if change.set is not None and (
        not isinstance(change.set, dict) or not all(isinstance(key, str) for key in change.set)
    ):
        raise InvalidParams("The field 'set' must be an object with string keys.", field="set")
    if change.remove is not None and (
        not isinstance(change.remove, list | tuple) or not all(isinstance(key, str) for key in change.remove)
    ):
        raise InvalidParams("The field 'remove' must be a list of key strings.", field="remove")
    if change.metadata is not None and not isinstance(change.metadata, dict):
        raise InvalidParams("The field 'metadata' must be an object.", field="metadata")


@dataclass
class Effect:
    """What applying a change to the head produces."""

    values: Values
    metadata: dict[str, Any]
    changed_keys: list[str]
    size: int
    delta: Payload = field(default_factory=Payload)

    @property
    def changes_anything(self) -> bool:
        return bool(self.changed_keys) or self.delta.metadata is not None


def apply_change(head: StoredState, change: Change) -> Effect:
    """Apply ``change`` to ``head``; the head itself is never modified."""
    differ: KeySet[str] = change.known_changed  # keys known to change (no JSON comparison needed)
    proposed: dict[str, bytes | None]
    known_splices: dict[str, tuple[int, int]] = {}
    if change.patch is not None:
        appended = _appends(head, change.patch, strict=not change.trusted_json)
        if appended is not None:  # an append makes a longer list: it always changes the value
            proposed, differ = {**appended}, appended.keys() | change.known_changed
            # all but the old closing ']' is kept, and the new value ends with ']' too
            known_splices = {key: (len(head.values[key]) - 1, 1) for key in appended}
        else:
            proposed = _patched_values(head, change.patch, strict=not change.trusted_json)
    else:
        encode = encode_value if change.trusted_json else encode_value_strict
        proposed = {
            key: change.encoded[key] if key in change.encoded else encode(value, key)
            for key, value in (change.set or {}).items()
        }
        proposed.update(dict.fromkeys(change.remove or (), None))
    values = dict(head.values)
    delta = Payload(known_splices=known_splices)
    for key, raw in proposed.items():
        old = head.values.get(key)
        if raw is None:
            if old is not None:
                del values[key]
                delta.removed.append(key)
        elif old is None or key in differ or not rfc6902.same_encoded(old, raw, decode_value):
            values[key] = raw
            delta.values[key] = raw
    metadata = _new_metadata(head.metadata, change)
    if metadata != head.metadata:
        delta.metadata = metadata
    changed = sorted([*delta.values, *delta.removed])
    size = size_after(head.values, head.measured_size(), values, changed)
    return Effect(values, metadata, changed, size, delta)


def _patched_values(head: StoredState, ops: list[dict[str, Any]], *, strict: bool) -> dict[str, bytes | None]:
    keys = rfc6902.touched_keys(ops)
    doc = decode_values(head.values, keys)
    result = rfc6902.apply_patch(doc, ops)
    affected = set(head.values) | set(result) if keys is None else keys
    # Values built in Python are checked strictly (NaN, tuples), as for ``set``.
    encode = encode_value_strict if strict else encode_value
    return {key: encode(result[key], key) if key in result else None for key in affected}


def _appends(head: StoredState, ops: list[dict[str, Any]], *, strict: bool) -> dict[str, bytes] | None:
    """The agent's everyday patch, ``add`` to ``/key/-`` (append to a top-level list), done on the
    encoded bytes: the list is never decoded, so an append to a 10 MB transcript costs the entry.
    None when the ops are anything else (the general path handles them)."""
    result: dict[str, bytes] = {}
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") != "add" or set(op) != {"op", "path", "value"}:
            return None
        parts = rfc6902.parse_pointer(op["path"], f"patch[{index}].path")
        if len(parts) != 2 or parts[1] != "-":
            return None
        key = parts[0]
        current = result.get(key, head.values.get(key))
        if current is None or current[:1] != b"[" or current[-1:] != b"]":
            return None  # not a list (or no such key): the general path says what is wrong
        encode = encode_value_strict if strict else encode_value
        item = encode(op["value"], key)
        # one copy of the list's bytes (bytes are immutable), not one per '+'
        result[key] = b"".join((memoryview(current)[:-1], b"," if current != b"[]" else b"", item, b"]"))
    return result


def _new_metadata(current: dict[str, Any], change: Change) -> dict[str, Any]:
    if change.metadata is None:
        return current
    if not isinstance(change.metadata, dict):
        raise InvalidParams("The field 'metadata' must be an object.", field="metadata")
    if not change.trusted_json:
        encode_value_strict(change.metadata, "metadata")
    check_metadata(change.metadata)
    if change.replace_metadata:
        return dict(change.metadata)
    merged = {**current, **change.metadata}
    check_merged_metadata(merged)
    return merged
