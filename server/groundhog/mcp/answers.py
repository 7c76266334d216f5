"""What a tool call answers (MCP.md, docs/mcp.md "Answers"): readable by every client, within the
size cap.

- Success: ``content`` is a one-line summary, then the result's JSON as text (exactly the
  ``structuredContent``: clients that hand the model only text must still see the data), and
  ``structuredContent`` is the result.
- Failure: ``isError: true``, ``content`` is ``Kind (code): message``, then the error's JSON
  ``{"error": {kind, code, message, ...details}}``; no ``structuredContent``, because a client that
  validates it against the tool's output schema (the TypeScript SDK 1.x) would replace our error
  with its own.
- The cap (``--max-result-bytes``) counts the whole answer: the summary, the text copy (as the
  JSON string it travels in) and ``structuredContent``, plus room for the protocol's envelope. So
  each copy of the result gets about half the cap. A result over it is shaped: ``context_get`` and
  ``context_switch`` keep the keys that fit, listings the first items that fit, long labels are
  cut, the brief drops its diff and shortens its lists; ``truncated`` says what was left out. A
  read that still cannot fit answers TooLarge; a write never does (it committed: it answers its
  shaped result, see ``fit``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from mcp_types import CallToolResult, TextContent

from groundhog.errors import ContextError, TooLarge

# JSON around the parts: {"content":[{"type":"text","text":S},{"type":"text","text":T}],
# "structuredContent":R,"isError":false}, plus what the protocol adds to a result (the 2026-07-28
# era stamps resultType and the server's name and version).
ENVELOPE_BYTES = 384
SUMMARY_CHARS = 240
LABEL_MARK = "…"
TRIMMABLE = {
    "list": "contexts",
    "snapshots": "snapshots",
    "history": "entries",
    "diff": "patch",
    "rollback": "changedKeys",
}


def both(encoded: bytes) -> int:
    """What a piece of the result's JSON costs in the answer: itself in ``structuredContent`` and
    again inside the text copy, where it is a JSON string (quotes and backslashes escaped)."""
    return len(encoded) + len(orjson.dumps(encoded.decode())) - 2


def cost(value: Any) -> int:
    return both(orjson.dumps(value))


def success(verb: str, result: dict[str, Any], limit: int, *, writes: bool) -> CallToolResult:
    """The answer to a call that succeeded, within ``limit`` bytes (see the module docstring)."""
    shaped, encoded = fit(verb, result, limit, writes=writes)
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary(verb, shaped)),
            TextContent(type="text", text=encoded.decode()),
        ],
        structured_content=shaped,
    )


def failure(error: ContextError, *, kind: str | None = None, code: int | None = None) -> CallToolResult:
    """The answer to a call that failed: readable as text alone, no structuredContent."""
    kind = kind or error.kind
    code = code or error.code
    details = {key: value for key, value in error.to_data().items() if key != "kind"}
    body = {"error": {"kind": kind, "code": code, "message": error.message, **details}}
    return CallToolResult(
        content=[
            TextContent(type="text", text=f"{kind} ({code}): {error.message}"),
            TextContent(type="text", text=orjson.dumps(body, default=str).decode()),
        ],
        is_error=True,
    )


def fit(verb: str, result: dict[str, Any], limit: int, *, writes: bool) -> tuple[dict[str, Any], bytes]:
    """The result as plain JSON (and its encoding) whose answer fits ``limit``."""
    encoded = orjson.dumps(result)
    room = limit - ENVELOPE_BYTES - _summary_cost(verb, result)
    total = len(encoded)
    # the answer holds the result twice, the text copy at most twice as long once escaped: no
    # need to measure the escapes when even that fits, no use when not even two plain copies do
    if 3 * total <= room or (2 * total <= room and both(encoded) <= room):
        return dict(orjson.loads(encoded)), encoded
    shaper = _SHAPERS.get(verb)
    shaped = shaper(result, room, total) if shaper is not None else result
    encoded = orjson.dumps(shaped)
    if both(encoded) > room and not writes:
        raise TooLarge(
            f"The result of this tool is {total} bytes, over what fits in the {limit}-byte answer "
            "limit (--max-result-bytes).",
            limit=limit,
            size=total,
        )
    # A write committed: its answer is its shaped result even in the rare case (a cap near the
    # 1,024-byte minimum and the longest names) where that stays a little over.
    return dict(orjson.loads(encoded)), encoded


def _summary_cost(verb: str, result: dict[str, Any]) -> int:
    """Room for the summary: the shaped result's is the same line with a few more words at most."""
    return len(orjson.dumps(summary(verb, result))) + 80


# -- shaping ------------------------------------------------------------------------------------


def _fit_data(result: dict[str, Any], room: int, total: int) -> dict[str, Any]:
    """``get`` / ``switch``: the keys whose values fit, in order; the others named in
    ``truncated.omittedKeys`` (as many names as fit; ``omittedItems`` then counts them all)."""
    data: dict[str, Any] = result["data"]
    truncated: dict[str, Any] = {"omittedKeys": [], "totalBytes": total}
    shaped = {**result, "data": {}, "truncated": truncated}
    left = room - cost(shaped)
    named = {key: both(orjson.dumps(key)) + 2 for key in data}
    left -= sum(named.values())
    kept: dict[str, Any] = {}
    for key, value in data.items():
        entry = orjson.dumps({key: value})
        if 2 * (len(entry) - 1) - named[key] > left:  # cannot fit, whatever its escapes cost
            continue
        extra = both(entry) - both(b"{}") + 2 - named[key]
        if extra <= left:
            kept[key] = value
            left -= extra
    omitted = [key for key in data if key not in kept]
    listed = omitted
    if left < 0:  # even the names do not all fit: name the first ones, count them all
        listed, left = [], left + sum(named[key] for key in omitted) - cost(len(omitted)) - 20
        for key in omitted:
            if named[key] > left:
                break
            listed.append(key)
            left -= named[key]
        truncated["omittedItems"] = len(omitted)
    truncated["omittedKeys"] = listed
    shaped["data"] = kept
    return shaped


def _fit_list(field: str) -> Callable[[dict[str, Any], int, int], dict[str, Any]]:
    def shape(result: dict[str, Any], room: int, total: int) -> dict[str, Any]:
        """A listing: the first items that fit (newest first where the listing is), each with
        its label cut if that alone is over a tenth of the room, so one item never hides the rest."""
        items = [_cut_label(item, room // 10) for item in result[field]]
        shaped = {**result, field: [], "truncated": {"omittedItems": len(items), "totalBytes": total}}
        left = room - cost(shaped)
        kept = []
        for item in items:
            size = cost(item) + 2
            if size > left:
                break
            kept.append(item)
            left -= size
        shaped[field] = kept
        shaped["truncated"]["omittedItems"] = len(items) - len(kept)
        return shaped

    return shape


def _fit_snapshot(result: dict[str, Any], room: int, total: int) -> dict[str, Any]:
    """A snapshot's record: its label cut to what fits (the snapshot itself keeps it whole)."""
    shaped: dict[str, Any] = _cut_label(result, room - cost({"truncated": {"totalBytes": total}}))
    if shaped is not result:
        shaped["truncated"] = {"totalBytes": total}
    return shaped


def _fit_brief(result: dict[str, Any], room: int, total: int) -> dict[str, Any]:
    """A brief over the cap drops the diff first, then shortens its longest lists."""
    changes = {**result["changes"], "diff": None}
    changes["diffOmitted"] = "the brief is over --max-result-bytes; ask context_diff for it"
    shaped = {**result, "changes": changes}
    shaped["snapshots"] = [_cut_label(item, room // 10) for item in result["snapshots"]]
    omitted = 0
    for field in ("keys", "snapshots"):
        while cost(shaped) > room - 64 and shaped[field]:
            half = len(shaped[field]) // 2
            omitted += len(shaped[field]) - half
            shaped[field] = shaped[field][:half]
    shaped["truncated"] = {"omittedItems": omitted, "totalBytes": total}
    return shaped


def _cut_label(item: Any, most: int) -> Any:
    """``item`` with its ``label`` shortened so that the item costs at most ``most`` (a copy; the
    same item when it already fits or has no label to cut)."""
    label = item.get("label") if isinstance(item, dict) else None
    if not isinstance(label, str) or not label:
        return item
    over = cost(item) - most
    if over <= 0:
        return item
    keep = len(label)
    while keep > 0:
        keep = max(0, keep - max(over // 2, 1))
        cut = {**item, "label": label[:keep] + LABEL_MARK}
        over = cost(cut) - most
        if over <= 0:
            return cut
    return {**item, "label": LABEL_MARK}


_SHAPERS: dict[str, Callable[[dict[str, Any], int, int], dict[str, Any]]] = {
    "get": _fit_data,
    "switch": _fit_data,
    "snapshot": _fit_snapshot,
    "resume": _fit_brief,
    **{verb: _fit_list(field) for verb, field in TRIMMABLE.items()},
}


# -- the one-line summary -----------------------------------------------------------------------


def summary(verb: str, result: dict[str, Any]) -> str:
    """The short human-readable line before the result's JSON (at most SUMMARY_CHARS)."""
    text = _describe(verb, result)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + LABEL_MARK


def _describe(verb: str, result: dict[str, Any]) -> str:
    if verb in ("get", "switch"):
        return _describe_data(result)
    if verb == "update":
        merged = " (merged)" if result["merged"] else ""
        return f"Context {result['context']!r} is at version {result['version']}{merged}."
    if verb == "status":
        active = result["active"]
        where = "no active context" if active is None else f"context {active['name']!r} v{active['version']}"
        return f"Session {result['session']['id']}: {where}; {result['contexts']} context(s)."
    if verb == "snapshot":
        return f"Snapshot {result['id']} of {result['context']!r} at version {result['version']}."
    if verb == "delete_snapshot":
        return f"Snapshot {result['id']} was deleted."
    if verb == "rollback":
        changed = len(result["changedKeys"]) + result.get("truncated", {}).get("omittedItems", 0)
        return f"Context {result['context']!r} is at version {result['version']} ({changed} key(s) changed)."
    if verb in TRIMMABLE:
        field = TRIMMABLE[verb]
        return f"{len(result[field])} {field}" + (" (truncated)." if "truncated" in result else ".")
    if verb == "resume":
        context = result["context"]
        if context is None and result.get("missingContext"):
            missing = result["missingContext"]
            return f"No context is active: {missing!r}, the one this session was started in, does not exist."
        if context is None:
            return "No context is active in this session."
        return (
            f"Context {context['name']!r} at version {context['version']} with {len(result['keys'])} key(s); "
            f"{len(result['editor']['sessions'])} live editor session(s)."
        )
    if verb == "editor_state":
        return f"{len(result['sessions'])} live editor session(s)."
    return f"{verb}: done."


def _describe_data(result: dict[str, Any]) -> str:
    name = result.get("context") or result.get("name")
    keys = list(result["data"])
    text = f"Context {name!r} at version {result['version']}: {len(keys)} key(s)"
    text += (
        (": " + ", ".join(_short(k) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")) if keys else ""
    )
    if "truncated" in result:
        truncated = result["truncated"]
        left_out = truncated.get("omittedItems", len(truncated["omittedKeys"]))
        text += f"; {left_out} key(s) left out (ask for them with 'keys')"
    return text + "."


def _short(key: str) -> str:
    return key if len(key) <= 40 else key[:39] + LABEL_MARK
