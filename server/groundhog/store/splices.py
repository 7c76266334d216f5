"""Deltas inside a value: a version that changes part of a large value (an append to a transcript,
an edit in a long string, one member of a big object) stores the bytes that changed, not the value.

A value's new encoded bytes are compared with the old ones: the common prefix and suffix stay, and
the delta keeps only ``(prefix length, suffix length, middle bytes)``. Reading applies the splices
in place on a ``bytearray`` (appends at the end are amortized), so rebuilding a version from its
checkpoint costs the checkpoint plus the changes, not one copy of the value per version.
Format: ``Payload.extra["s"] = {key: [prefix, suffix]}`` for keys whose ``values`` entry is the
middle; keys absent from it hold whole values (all deltas written before format 3).
"""

from __future__ import annotations

from collections.abc import Iterable

from groundhog.errors import DataDamaged
from groundhog.store.codec import Payload, Values
from groundhog.store.records import StoredState

SPLICE_MIN_BYTES = 512  # smaller values are stored whole: a splice would save little
_CHUNK = 1 << 16


def spliced(delta: Payload, old: Values) -> Payload:
    """``delta`` with each large value that shares most of its bytes with its old value replaced
    by a splice of the old one."""
    splices: dict[str, list[int]] = {}
    values: Values = {}
    for key, new in delta.values.items():
        previous = old.get(key)
        if previous is None or len(new) < SPLICE_MIN_BYTES:
            values[key] = new
            continue
        known = delta.known_splices.get(key)
        if known is not None and known[0] + known[1] <= min(len(previous), len(new)):
            prefix, suffix = known  # an append on the encoded bytes: no compare of the whole value
        elif not _may_share_half(previous, new):
            values[key] = new  # a new value, not an edit: no search for the common ends (issue 23)
            continue
        else:
            prefix = _common_prefix(previous, new)
            suffix = _common_suffix(previous, new, min(len(previous), len(new)) - prefix)
        middle = new[prefix : len(new) - suffix]
        if len(middle) * 2 >= len(new):  # most of it changed: whole is simpler and no bigger
            values[key] = new
            continue
        values[key] = middle
        splices[key] = [prefix, suffix]
    if not splices:
        return delta
    extra = dict(delta.extra or {})
    extra["s"] = splices
    return Payload(values, delta.removed, delta.metadata, extra)


def _may_share_half(old: bytes, new: bytes) -> bool:
    """Whether ``old`` and ``new`` can share half of ``new`` as common ends: one end must then be a
    quarter of it at least. Two compares of a quarter, instead of the binary searches that cost a
    rollback replacing 500 values of 1 KB ~10 ms (issue 23)."""
    quarter = len(new) // 4
    if quarter > min(len(old), len(new)):
        return False
    view = memoryview(old)
    return new.startswith(view[:quarter]) or new.endswith(view[len(old) - quarter :])


def apply_deltas(state: StoredState, deltas: Iterable[Payload]) -> None:
    """Bring ``state`` forward through ``deltas`` (oldest first), splicing in place."""
    working: dict[str, bytearray] = {}
    state.size = -1
    for delta in deltas:
        for key in delta.removed:
            state.values.pop(key, None)
            working.pop(key, None)
        splices = (delta.extra or {}).get("s") or {}
        for key, raw in delta.values.items():
            cut = splices.get(key)
            if cut is None:
                state.values[key] = raw
                working.pop(key, None)
                continue
            target = working.get(key)
            if target is None:
                current = state.values.get(key)
                if current is None:
                    raise DataDamaged("A delta splices a value that does not exist (the history is damaged).")
                target = working[key] = bytearray(current)
            prefix, suffix = _checked(cut, len(target))
            target[prefix : len(target) - suffix] = raw
        if delta.metadata is not None:
            state.metadata = delta.metadata
    for key, target in working.items():
        state.values[key] = bytes(target)


def _checked(cut: object, length: int) -> tuple[int, int]:
    if (
        not isinstance(cut, list)
        or len(cut) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in cut)
        or cut[0] + cut[1] > length
    ):
        raise DataDamaged("A delta's splice does not fit its value (the history is damaged).")
    return cut[0], cut[1]


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix: whole chunks compared with memcmp (``startswith`` on a view,
    no copies), then a binary search in the first chunk that differs. An append costs one compare."""
    limit = min(len(a), len(b))
    view = memoryview(a)
    if b.startswith(view[:limit]):
        return limit
    if limit > 64 and b.startswith(view[: limit - 64]):  # an append: only the closing bytes moved
        return _search_prefix(b, view, limit - 64, limit)
    start = 0
    while start + _CHUNK <= limit and b.startswith(view[start : start + _CHUNK], start):
        start += _CHUNK
    return _search_prefix(b, view, start, min(start + _CHUNK, limit))


def _search_prefix(b: bytes, view: memoryview, low: int, high: int) -> int:
    """Binary search, knowing a[:low] == b[:low] and that the answer is at most ``high``."""
    while low < high:
        middle = (low + high + 1) // 2
        if b.startswith(view[low:middle], low):
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common suffix, at most ``limit`` (so it never overlaps the prefix)."""
    if limit <= 0:
        return 0
    view, end_a, end_b = memoryview(a), len(a), len(b)

    def same(low: int, high: int) -> bool:  # a[end-high:end-low] == b[end-high:end-low]
        return b.endswith(view[end_a - high : end_a - low], 0, end_b - low)

    if same(0, limit):
        return limit
    matched = 0
    while matched + _CHUNK <= limit and same(matched, matched + _CHUNK):
        matched += _CHUNK
    low, high = matched, min(matched + _CHUNK, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if same(low, middle):
            low = middle
        else:
            high = middle - 1
    return low
