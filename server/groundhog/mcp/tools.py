"""The MCP tools (MCP.md): one ``context_<verb>`` per protocol request plus ``editor_state`` and
``resume``; their input schemas (from the same params models that validate LSP requests), output
schemas, annotations, one-line summaries, and the result size cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from groundhog import methods, requests
from groundhog import params as p
from groundhog.brief import AGENT_REQUESTS
from groundhog.errors import TooLarge
from groundhog.requests import Handler

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
OBJ: dict[str, Any] = {"type": "object"}
ANY: dict[str, Any] = {}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
    }


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


TRUNCATED = _obj(
    {"omittedKeys": _array(STR), "omittedItems": INT, "totalBytes": INT}, "omittedKeys", "omittedItems"
)
EDITOR = _obj({"openDocuments": _array(OBJ), "activeUri": _nullable(STR), "selections": _array(OBJ)})
SNAPSHOT = _obj(
    {
        "id": STR,
        "context": STR,
        "version": INT,
        "timestamp": STR,
        "label": _nullable(STR),
        "sizeBytes": INT,
    }
)
ENTRY = _obj({"version": INT, "timestamp": STR, "kind": STR, "session": STR, "changedKeys": _array(STR)})
EDITOR_STATE = _obj(
    {
        "sessions": _array(
            _obj(
                {
                    "session": STR,
                    "client": STR,
                    "clientVersion": _nullable(STR),
                    "context": _nullable(STR),
                    "editor": EDITOR,
                    "savedAt": _nullable(STR),
                    "ageMs": _nullable(INT),
                }
            )
        ),
        "last": _nullable(_obj({"context": STR, "editor": EDITOR, "savedAt": STR, "ageMs": _nullable(INT)})),
        "truncated": TRUNCATED,
    },
    "truncated",
)

OUTPUTS: dict[str, dict[str, Any]] = {
    "status": _obj(
        {
            "workspace": _obj({"uri": STR, "id": STR}),
            "session": _obj({"id": STR, "readOnly": BOOL}),
            "active": _nullable(_obj({"name": STR, "version": _nullable(INT)})),
            "store": _obj({"path": STR, "encrypted": BOOL, "schemaVersion": INT}),
            "contexts": INT,
        }
    ),
    "list": _obj(
        {
            "contexts": _array(
                _obj({"name": STR, "version": INT, "lastModified": STR, "status": STR, "sessions": INT})
            ),
            "truncated": TRUNCATED,
        },
        "truncated",
    ),
    "info": _obj(
        {"name": STR, "status": STR, "version": INT, "lastModified": STR, "snapshots": INT},
        "version",
        "lastModified",
        "snapshots",
    ),
    "create": _obj({"name": STR, "version": INT, "lastModified": STR}),
    "delete": _obj({"deleted": BOOL}),
    "switch": _obj({"name": STR, "version": INT, "data": OBJ, "truncated": TRUNCATED}, "truncated"),
    "deactivate": _obj({"deactivated": STR}),
    "get": _obj(
        {
            "context": STR,
            "version": INT,
            "lastModified": STR,
            "data": OBJ,
            "metadata": OBJ,
            "editor": EDITOR,
            "truncated": TRUNCATED,
        },
        "truncated",
    ),
    "update": _obj({"context": STR, "version": INT, "merged": BOOL}),
    "snapshot": SNAPSHOT,
    "snapshots": _obj({"snapshots": _array(SNAPSHOT), "truncated": TRUNCATED}, "truncated"),
    "rollback": _obj(
        {
            "context": STR,
            "version": INT,
            "restoredFrom": OBJ,
            "changedKeys": _array(STR),
            "recoveryPoint": _nullable(STR),
        }
    ),
    "history": _obj(
        {"entries": _array(ENTRY), "oldestVersion": _nullable(INT), "truncated": TRUNCATED}, "truncated"
    ),
    "diff": _obj(
        {"fromVersion": INT, "toVersion": INT, "patch": _array(OBJ), "truncated": TRUNCATED}, "truncated"
    ),
    "editor": EDITOR,
    "editor_state": EDITOR_STATE,
    "resume": _obj(
        {
            "workspace": _obj({"uri": STR, "id": STR}),
            "session": _obj({"id": STR, "readOnly": BOOL}),
            "context": _nullable(
                _obj({"name": STR, "version": INT, "lastModified": STR, "lastChange": _nullable(ENTRY)})
            ),
            "keys": _array(_obj({"key": STR, "bytes": INT})),
            "snapshots": _array(SNAPSHOT),
            "changes": _obj(
                {"sinceVersion": _nullable(INT), "entries": _array(ENTRY), "diff": _nullable(_array(OBJ))}
            ),
            "editor": EDITOR_STATE,
            "truncated": TRUNCATED,
        },
        "truncated",
    ),
}

DESCRIPTIONS = {
    "status": "Where this agent session stands: workspace, session id, active context and version, store.",
    "list": "List the workspace's contexts with their versions and how many live sessions use each.",
    "info": "Status of one context by name (active, inactive or nonexistent), with version and snapshots.",
    "create": "Create a named context at version 1, empty or as a copy ('from'); 'activate' switches to it.",
    "delete": "Delete a context and its snapshots (not 'default', not the active one). Cannot be undone.",
    "switch": "Make another context this session's active one ('create' to make it if missing).",
    "deactivate": "Leave this session with no active context.",
    "get": "Read a context's data (head, or any kept 'version'); 'keys' reads only those keys.",
    "update": (
        "Change a context: 'set' keys, 'remove' keys, or an RFC 6902 'patch'; 'baseVersion' for "
        "optimistic concurrency (disjoint keys merge, overlapping keys conflict)."
    ),
    "snapshot": "Take an immutable, labelled snapshot of a context (its data and editor state).",
    "snapshots": "List a context's snapshots and recovery points, newest first.",
    "rollback": (
        "Restore a context to an earlier version ('toVersion') or snapshot ('snapshotId'); records a "
        "recovery point first, so it can be undone. 'dryRun' only says what would change."
    ),
    "history": "A context's versions, newest first: when, which session, what kind, which keys changed.",
    "diff": "RFC 6902 patch between two versions of a context (one op per changed top-level key).",
    "editor": "This session's own live editor state (empty for an agent session).",
    "editor_state": (
        "What the people on this workspace have open: every live editor session's open files, "
        "active file and selections (as last persisted, with its age), and the last saved editor state."
    ),
    "resume": (
        "One brief to pick up where things stand: active context and its last change, its keys and "
        "sizes, newest snapshots, the changes since 'sinceVersion', and the editors' state."
    ),
}

READ_ONLY = {
    "status",
    "list",
    "info",
    "get",
    "snapshots",
    "history",
    "diff",
    "editor",
    "editor_state",
    "resume",
}
DESTRUCTIVE = {"delete"}
IDEMPOTENT = READ_ONLY | {"switch", "deactivate", "delete"}
# Which list to shorten when a result is over the cap (``get``/``switch`` shorten their data).
TRIMMABLE = {"list": "contexts", "snapshots": "snapshots", "history": "entries", "diff": "patch"}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    verb: str
    model: type[p.Params]
    handler: Handler
    read_only: bool
    destructive: bool
    idempotent: bool
    description: str
    output_schema: dict[str, Any]

    def input_schema(self) -> dict[str, Any]:
        schema = self.model.model_json_schema(by_alias=True, mode="validation")
        schema.pop("title", None)
        schema.setdefault("properties", {})
        return schema


def _spec(name: str, verb: str, model: type[p.Params], handler: Handler) -> ToolSpec:
    return ToolSpec(
        name=name,
        verb=verb,
        model=model,
        handler=handler,
        read_only=verb in READ_ONLY,
        destructive=verb in DESTRUCTIVE,
        idempotent=verb in IDEMPOTENT,
        description=DESCRIPTIONS[verb],
        output_schema=OUTPUTS[verb],
    )


def _all_tools() -> dict[str, ToolSpec]:
    tools = {}
    for method in methods.REQUESTS:
        verb = method.split("/", 1)[1]
        model, handler = requests.REQUESTS[method]
        tools["context_" + verb] = _spec("context_" + verb, verb, model, handler)
    for verb, (model, handler) in AGENT_REQUESTS.items():
        tools[verb] = _spec(verb, verb, model, handler)
    return tools


TOOLS = _all_tools()


# -- result shaping -----------------------------------------------------------------------------


def capped(verb: str, result: dict[str, Any], limit: int) -> dict[str, Any]:
    """The result as plain JSON, no longer than ``limit`` bytes: a data-carrying result keeps the
    keys that fit, a listing the items that fit, each saying what it left out under ``truncated``."""
    encoded = orjson.dumps(result)
    if len(encoded) <= limit:
        return dict(orjson.loads(encoded))
    total = len(encoded)
    if verb in ("get", "switch"):
        shaped = _fit_data(result, limit, total)
    elif verb in TRIMMABLE:
        shaped = _fit_list(result, TRIMMABLE[verb], limit, total)
    elif verb == "resume":
        shaped = _fit_brief(result, limit, total)
    else:
        shaped = result
    encoded = orjson.dumps(shaped)
    if len(encoded) > limit:
        raise TooLarge(
            f"The result of this tool is {total} bytes, over the {limit}-byte limit (--max-result-bytes).",
            limit=limit,
            size=total,
        )
    return dict(orjson.loads(encoded))


def _fit_data(result: dict[str, Any], limit: int, total: int) -> dict[str, Any]:
    data: dict[str, Any] = result["data"]
    sizes = {key: len(orjson.dumps(key)) + 1 + len(orjson.dumps(value)) + 1 for key, value in data.items()}
    omitted = list(data)
    truncated: dict[str, Any] = {"omittedKeys": omitted, "totalBytes": total}
    shaped = {**result, "data": {}, "truncated": truncated}
    room = limit - len(orjson.dumps(shaped))
    kept: dict[str, Any] = {}
    for key, value in data.items():
        # a key moved from omittedKeys to data costs its value but saves its name in the list
        cost = sizes[key] - (len(orjson.dumps(key)) + 1)
        if cost <= room:
            kept[key] = value
            room -= cost
    truncated["omittedKeys"] = [key for key in data if key not in kept]
    shaped["data"] = kept
    return shaped


def _fit_list(result: dict[str, Any], field: str, limit: int, total: int) -> dict[str, Any]:
    items: list[Any] = result[field]
    shaped = {**result, field: [], "truncated": {"omittedItems": len(items), "totalBytes": total}}
    room = limit - len(orjson.dumps(shaped))
    kept = []
    for item in items:
        cost = len(orjson.dumps(item)) + 1
        if cost > room:
            break
        kept.append(item)
        room -= cost
    shaped[field] = kept
    shaped["truncated"]["omittedItems"] = len(items) - len(kept)
    return shaped


def _fit_brief(result: dict[str, Any], limit: int, total: int) -> dict[str, Any]:
    """A brief over the cap drops the diff first, then shortens its longest lists."""
    shaped = {**result, "changes": {**result["changes"], "diff": None}}
    shaped["changes"]["diffOmitted"] = "the brief is over --max-result-bytes; ask context_diff for it"
    omitted = 0
    for field in ("keys", "snapshots"):
        while len(orjson.dumps(shaped)) > limit - 64 and shaped[field]:
            shaped[field] = shaped[field][: len(shaped[field]) // 2]
            omitted += 1
    shaped["truncated"] = {"omittedItems": omitted, "totalBytes": total}
    return shaped


def summary(verb: str, result: dict[str, Any]) -> str:
    """The one short human-readable line that goes with a structured result."""
    if verb in ("get", "switch"):
        name = result.get("context") or result.get("name")
        keys = list(result["data"])
        text = f"Context {name!r} at version {result['version']}: {len(keys)} key(s)"
        text += (": " + ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")) if keys else ""
        if "truncated" in result:
            text += f"; {len(result['truncated']['omittedKeys'])} key(s) left out (ask for them with 'keys')"
        return text + "."
    if verb == "update":
        merged = " (merged)" if result["merged"] else ""
        return f"Context {result['context']!r} is at version {result['version']}{merged}."
    if verb == "status":
        active = result["active"]
        where = "no active context" if active is None else f"context {active['name']!r} v{active['version']}"
        return f"Session {result['session']['id']} on {result['workspace']['uri']}: {where}."
    if verb in TRIMMABLE:
        field = TRIMMABLE[verb]
        return f"{len(result[field])} {field}" + (" (truncated)." if "truncated" in result else ".")
    if verb == "resume":
        context = result["context"]
        if context is None:
            return "No context is active in this session."
        return (
            f"Context {context['name']!r} at version {context['version']} with {len(result['keys'])} key(s); "
            f"{len(result['editor']['sessions'])} live editor session(s)."
        )
    if verb == "snapshot":
        return f"Snapshot {result['id']} of {result['context']!r} at version {result['version']}."
    if verb == "rollback":
        changed = len(result["changedKeys"])
        return f"Context {result['context']!r} is at version {result['version']} ({changed} key(s) changed)."
    if verb == "editor_state":
        return f"{len(result['sessions'])} live editor session(s)."
    return orjson.dumps(result).decode()[:200]
