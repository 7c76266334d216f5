"""RFC 6902 JSON Patch over a context's data, and the per-key diff the protocol reports.

Only the top-level keys a patch touches are decoded (decision 9), so a one-leaf patch on a 1 MB state
costs what that key costs. A path of ``""`` touches the whole document.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from groundhog.errors import InvalidParams, VersionConflict

WHOLE_DOCUMENT = ""
_OPS = {"add", "remove", "replace", "move", "copy", "test"}
_MISSING = object()


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def pointer(key: str) -> str:
    return "/" + escape(key)


def parse_pointer(path: object, where: str) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise InvalidParams(f"{where} must be a JSON pointer string.", field=where)
    if path == "":
        return []
    parts = path[1:].split("/")
    for part in parts:
        if "~" in part.replace("~0", "").replace("~1", ""):
            raise InvalidParams(f"{where} has an invalid '~' escape.", field=where)
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]


def check_ops(ops: object) -> list[dict[str, Any]]:
    """Validate the shape of every op; return them. A malformed op is InvalidParams."""
    if not isinstance(ops, list):
        raise InvalidParams("The field 'patch' must be a list of operations.", field="patch")
    for index, op in enumerate(ops):
        where = f"patch[{index}]"
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise InvalidParams(f"{where} needs an 'op' of {sorted(_OPS)}.", field=where)
        parse_pointer(op.get("path"), f"{where}.path")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise InvalidParams(f"{where} needs a 'value'.", field=f"{where}.value")
        if op["op"] in ("move", "copy"):
            parse_pointer(op.get("from"), f"{where}.from")
        # Other members are ignored: RFC 6902 section 4 says they MUST be (appendix A.11).
    return ops


def touched_keys(ops: list[dict[str, Any]]) -> set[str] | None:
    """Top-level keys the ops touch; None means the whole document."""
    keys: set[str] = set()
    for index, op in enumerate(ops):
        for member in ("path", "from"):
            if member not in op or (member == "from" and op["op"] not in ("move", "copy")):
                continue
            parts = parse_pointer(op[member], f"patch[{index}].{member}")
            if not parts:
                return None
            keys.add(parts[0])
    return keys


def apply_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply all ops to a copy of ``doc`` (all or nothing); return the new document."""
    result: Any = copy.deepcopy(doc)
    for index, op in enumerate(ops):
        result = _apply_op(result, op, f"patch[{index}]")
    if not isinstance(result, dict):
        raise InvalidParams("The patch must leave the context data a JSON object.", field="patch")
    return result


def _apply_op(doc: Any, op: dict[str, Any], where: str) -> Any:
    kind = op["op"]
    path = parse_pointer(op["path"], f"{where}.path")
    if kind == "test":
        actual = _get(doc, path, where)
        if actual is _MISSING or not json_equal(actual, op["value"]):
            key = path[0] if path else WHOLE_DOCUMENT
            raise VersionConflict(f"{where}: the test of {op['path']!r} failed.", conflictingKeys=[key])
        return doc
    if kind == "remove":
        return _remove(doc, path, where)
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]), where)
    if kind == "replace":
        doc = _remove(doc, path, where)
        return _add(doc, path, copy.deepcopy(op["value"]), where)
    source = parse_pointer(op["from"], f"{where}.from")
    value = _get(doc, source, where)
    if value is _MISSING:
        raise InvalidParams(f"{where}.from {op['from']!r} does not exist.", field=f"{where}.from")
    if kind == "move":
        if path[: len(source)] == source and len(path) > len(source):
            raise InvalidParams(f"{where} moves a value into itself.", field=where)
        doc = _remove(doc, source, where)
    return _add(doc, path, copy.deepcopy(value), where)


def _get(doc: Any, path: list[str], where: str) -> Any:
    node = doc
    for part in path:
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list):
            index = _index(part, len(node) - 1, where)
            node = node[index] if index is not None else _MISSING
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _parent(doc: Any, path: list[str], where: str) -> Any:
    parent = _get(doc, path[:-1], where)
    if parent is _MISSING or not isinstance(parent, dict | list):
        raise InvalidParams(f"{where}.path has no parent to change.", field=f"{where}.path")
    return parent


def _add(doc: Any, path: list[str], value: Any, where: str) -> Any:
    if not path:
        return value
    parent = _parent(doc, path, where)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif path[-1] == "-":
        parent.append(value)
    else:
        index = _index(path[-1], len(parent), where)
        if index is None:
            raise InvalidParams(f"{where}.path index is out of range.", field=f"{where}.path")
        parent.insert(index, value)
    return doc


def _remove(doc: Any, path: list[str], where: str) -> Any:
    if not path:
        return {}
    parent = _parent(doc, path, where)
    if isinstance(parent, dict):
        if path[-1] not in parent:
            raise InvalidParams(f"{where}.path does not exist.", field=f"{where}.path")
        del parent[path[-1]]
    else:
        index = _index(path[-1], len(parent) - 1, where)
        if index is None:
            raise InvalidParams(f"{where}.path index is out of range.", field=f"{where}.path")
        del parent[index]
    return doc


def _index(part: str, highest: int, where: str) -> int | None:
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise InvalidParams(f"{where}.path has an invalid array index.", field=f"{where}.path")
    index = int(part)
    return index if index <= highest else None


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 and 1.0 are equal, but true and 1 are not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def same_encoded(old: bytes, new: bytes, decode: Any, new_value: Any = _MISSING) -> bool:
    """Whether two compact JSON encodings hold equal JSON, decoding only when the bytes cannot
    tell: differing bytes of strings and literals (one encoding each), of values of different
    types, or of a value grown by members at its end (``extends``) always differ. Objects (key
    order) and numbers (1 and 1.0) are otherwise decoded, ``new`` as ``new_value`` when given."""
    if old == new:
        return True
    first, other = old[:1], new[:1]
    if first != other and not (first in _NUMBER_STARTS and other in _NUMBER_STARTS):
        return False
    if first in (b'"', b"t", b"f", b"n") or extends(old, new) or extends(new, old):
        return False
    return json_equal(decode(old), decode(new) if new_value is _MISSING else new_value)


_NUMBER_STARTS = frozenset(bytes([c]) for c in b"-0123456789")


def extends(old: bytes, new: bytes) -> bool:
    """Whether ``new`` is ``old`` with members added at its end: an array or object whose text,
    but for the closing bracket, starts ``new`` and is followed there by a ','. That comma sits
    at the top level (the bracket it replaces did), so ``new`` holds more elements, or a member
    of a key ``old`` lacks (encoded objects have no duplicate keys): different JSON, found with
    one compare instead of two decodes (an update_state of a 10 MB transcript decoded it twice)."""
    end = len(old) - 1
    return (
        old[:1] in (b"[", b"{")
        and len(new) > len(old)
        and new[end : end + 1] == b","
        and new[-1:] == old[-1:]
        and new.startswith(memoryview(old)[:end])
    )


def changed_keys(old: Mapping[str, bytes], new: Mapping[str, bytes], decode: Any) -> list[str]:
    """Top-level keys whose values differ as JSON, sorted; equal bytes are never decoded."""
    changed = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is None or after is None or not same_encoded(before, after, decode):
            changed.append(key)
    return changed


def key_diff(old: Mapping[str, bytes], new: Mapping[str, bytes], decode: Any) -> list[dict[str, Any]]:
    """One add / remove / replace op per changed top-level key (decision 19), sorted by key."""
    ops: list[dict[str, Any]] = []
    for key in changed_keys(old, new, decode):
        if key not in new:
            ops.append({"op": "remove", "path": pointer(key)})
        else:
            kind = "replace" if key in old else "add"
            ops.append({"op": kind, "path": pointer(key), "value": decode(new[key])})
    return ops
