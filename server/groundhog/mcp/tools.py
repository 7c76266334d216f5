"""The MCP tools (MCP.md): one ``context_<verb>`` per protocol request plus ``editor_state`` and
``resume``, derived from ``requests.REQUESTS`` (a request ``context/deleteSnapshot`` is the tool
``context_delete_snapshot``); their schemas, annotations and descriptions, and the arguments check
this face adds to the shared params validation (``null`` is refused, naming the field)."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from groundhog import params as p
from groundhog import requests
from groundhog.brief import AGENT_REQUESTS
from groundhog.errors import InvalidParams
from groundhog.mcp import descriptions, schemas
from groundhog.requests import Handler

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
DESTRUCTIVE = {"delete", "delete_snapshot"}
IDEMPOTENT = READ_ONLY | {"switch", "deactivate", "delete", "delete_snapshot"}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    verb: str  # snake_case: ``get``, ``delete_snapshot``, ``editor_state``
    model: type[p.Params]
    handler: Handler
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]

    @property
    def read_only(self) -> bool:
        return self.verb in READ_ONLY

    @property
    def destructive(self) -> bool:
        return self.verb in DESTRUCTIVE

    @property
    def idempotent(self) -> bool:
        return self.verb in IDEMPOTENT

    @property
    def writes(self) -> bool:
        """Whether the tool may commit (its answer must then never be an error)."""
        return not self.read_only


def snake(verb: str) -> str:
    """``deleteSnapshot`` -> ``delete_snapshot`` (tool names are snake_case, methods lowerCamel)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", verb).lower()


def _spec(name: str, verb: str, model: type[p.Params], handler: Handler) -> ToolSpec:
    return ToolSpec(
        name=name,
        verb=verb,
        model=model,
        handler=handler,
        description=descriptions.TOOLS.get(verb, ""),
        input_schema=schemas.input_schema(model, descriptions.PARAMETERS.get(verb, {})),
        output_schema=schemas.OUTPUTS.get(verb, {"type": "object"}),
    )


def _all_tools() -> dict[str, ToolSpec]:
    tools = {}
    for method, (model, handler) in requests.REQUESTS.items():
        verb = snake(method.split("/", 1)[1])
        tools["context_" + verb] = _spec("context_" + verb, verb, model, handler)
    for verb, (model, handler) in AGENT_REQUESTS.items():
        tools[verb] = _spec(verb, verb, model, handler)
    return tools


TOOLS = _all_tools()


def refuse_nulls(model: type[p.Params], arguments: dict[str, Any], prefix: str = "") -> None:
    """On this face ``null`` is not "left out" (the LSP face's PROTOCOL.md decision 5): the input
    schemas declare plain types, so a ``null`` is refused naming the field rather than quietly
    taken as the default. Values inside data (``set: {"a": null}``) are data, not parameters."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in arguments:
            continue
        value = arguments[key]
        path = prefix + key
        if value is None:
            raise InvalidParams(
                f"The field {path!r} must not be null; leave it out to use its default.", field=path
            )
        nested = _params_model(field.annotation)
        if nested is not None and isinstance(value, dict):
            refuse_nulls(nested, value, path + ".")


def _params_model(annotation: Any) -> type[p.Params] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, p.Params):
            return candidate
    return None
