"""The tools' JSON Schemas (MCP.md): input schemas derived from the params models that validate the
LSP requests, rewritten for the clients that read them, and the output schemas of every result.

Input schemas declare plain types: an optional parameter is simply not required (absence means its
default). Pydantic's ``anyOf [{type}, {type: null}]`` is gone because clients that convert arguments
by the schema's ``type`` (MCP Inspector 0.15's CLI) find no type there and send objects and arrays
as strings; ``null`` is refused on this face, naming the field (tools.refuse_nulls). Nested models
are inlined (no ``$ref``), titles dropped, and every parameter carries a description written for the
model that reads it (descriptions.py)."""

from __future__ import annotations

from typing import Any

from groundhog import params as p

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
OBJ: dict[str, Any] = {"type": "object"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


# -- inputs -------------------------------------------------------------------------------------


def input_schema(model: type[p.Params], describe: dict[str, str]) -> dict[str, Any]:
    """``model``'s schema with plain types, nested models inlined and ``describe``'s descriptions
    (keyed by the dotted field path: ``from.snapshotId``)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    definitions = schema.pop("$defs", {})
    return _plain(schema, definitions, describe, "")


def _plain(
    schema: dict[str, Any], definitions: dict[str, Any], describe: dict[str, str], path: str
) -> dict[str, Any]:
    schema = _resolve(schema, definitions)
    out: dict[str, Any] = {key: value for key, value in schema.items() if key not in ("title", "description")}
    if "default" in out and out["default"] is None:
        del out["default"]
    if path in describe:
        out["description"] = describe[path]
    if "properties" in schema or (schema.get("type") == "object" and "additionalProperties" in schema):
        properties = schema.get("properties", {})
        out["properties"] = {
            name: _plain(sub, definitions, describe, f"{path}.{name}" if path else name)
            for name, sub in properties.items()
        }
    if isinstance(schema.get("items"), dict):
        out["items"] = _plain(schema["items"], definitions, describe, path + "[]")
    return out


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Follow a ``$ref`` and drop the ``null`` branch of an optional field's ``anyOf``."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        typed = [branch for branch in branches if branch != {"type": "null"}]
        if len(typed) == 1:
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            schema = {**typed[0], **rest}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = definitions[ref.removeprefix("#/$defs/")]
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **rest}
    return schema


def has_nullable(schema: Any) -> bool:
    """Whether a schema anywhere admits ``null`` (what input schemas must not do)."""
    if isinstance(schema, dict):
        if schema.get("type") == "null" or "$ref" in schema:
            return True
        return any(has_nullable(value) for value in schema.values())
    if isinstance(schema, list):
        return any(has_nullable(value) for value in schema)
    return False


# -- outputs ------------------------------------------------------------------------------------

TRUNCATED = obj(
    {"omittedKeys": array(STR), "omittedItems": INT, "totalBytes": INT}, "omittedKeys", "omittedItems"
)
EDITOR = obj({"openDocuments": array(OBJ), "activeUri": nullable(STR), "selections": array(OBJ)})
SNAPSHOT = obj(
    {
        "id": STR,
        "context": STR,
        "version": INT,
        "timestamp": STR,
        "label": nullable(STR),
        "sizeBytes": INT,
        "truncated": TRUNCATED,
    },
    "truncated",
)
ENTRY = obj({"version": INT, "timestamp": STR, "kind": STR, "session": STR, "changedKeys": array(STR)})
EDITOR_STATE = obj(
    {
        "sessions": array(
            obj(
                {
                    "session": STR,
                    "client": STR,
                    "clientVersion": nullable(STR),
                    "context": nullable(STR),
                    "editor": EDITOR,
                    "savedAt": nullable(STR),
                    "ageMs": nullable(INT),
                }
            )
        ),
        "last": nullable(obj({"context": STR, "editor": EDITOR, "savedAt": STR, "ageMs": nullable(INT)})),
        "truncated": TRUNCATED,
    },
    "truncated",
)

OUTPUTS: dict[str, dict[str, Any]] = {
    "status": obj(
        {
            "workspace": obj({"uri": STR, "id": STR}),
            "session": obj({"id": STR, "readOnly": BOOL}),
            "active": nullable(obj({"name": STR, "version": nullable(INT)})),
            "store": obj({"path": STR, "encrypted": BOOL, "schemaVersion": INT}),
            "contexts": INT,
        }
    ),
    "list": obj(
        {
            "contexts": array(
                obj({"name": STR, "version": INT, "lastModified": STR, "status": STR, "sessions": INT})
            ),
            "truncated": TRUNCATED,
        },
        "truncated",
    ),
    "info": obj(
        {"name": STR, "status": STR, "version": INT, "lastModified": STR, "snapshots": INT},
        "version",
        "lastModified",
        "snapshots",
    ),
    "create": obj({"name": STR, "version": INT, "lastModified": STR}),
    "delete": obj({"deleted": BOOL}),
    "delete_snapshot": obj({"deleted": BOOL, "id": STR}),
    "switch": obj({"name": STR, "version": INT, "data": OBJ, "truncated": TRUNCATED}, "truncated"),
    "deactivate": obj({"deactivated": STR}),
    "get": obj(
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
    "update": obj({"context": STR, "version": INT, "merged": BOOL}),
    "snapshot": SNAPSHOT,
    "snapshots": obj({"snapshots": array(SNAPSHOT), "truncated": TRUNCATED}, "truncated"),
    "rollback": obj(
        {
            "context": STR,
            "version": INT,
            "restoredFrom": OBJ,
            "changedKeys": array(STR),
            "recoveryPoint": nullable(STR),
            "truncated": TRUNCATED,
        },
        "truncated",
    ),
    "history": obj(
        {"entries": array(ENTRY), "oldestVersion": nullable(INT), "truncated": TRUNCATED}, "truncated"
    ),
    "diff": obj(
        {"fromVersion": INT, "toVersion": INT, "patch": array(OBJ), "truncated": TRUNCATED}, "truncated"
    ),
    "editor": EDITOR,
    "editor_state": EDITOR_STATE,
    "resume": obj(
        {
            "workspace": obj({"uri": STR, "id": STR}),
            "session": obj({"id": STR, "readOnly": BOOL}),
            "context": nullable(
                obj({"name": STR, "version": INT, "lastModified": STR, "lastChange": nullable(ENTRY)})
            ),
            "keys": array(obj({"key": STR, "bytes": INT})),
            "snapshots": array(SNAPSHOT),
            "changes": obj(
                {"sinceVersion": nullable(INT), "entries": array(ENTRY), "diff": nullable(array(OBJ))}
            ),
            "editor": EDITOR_STATE,
            "missingContext": STR,
            "truncated": TRUNCATED,
        },
        "missingContext",
        "truncated",
    ),
}
