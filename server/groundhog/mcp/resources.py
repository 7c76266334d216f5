"""The MCP resources (MCP.md): their URIs, listing, templates and contents, and the ``resume``
prompt's text (``brief_message``, shared with the agents' hooks in ``groundhog.briefing``).
Contents are the results of the same engine operations as the tools."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp_types import Resource, ResourceTemplate

from groundhog import params as p
from groundhog import requests
from groundhog.brief import editor_state
from groundhog.briefing import brief_message
from groundhog.errors import ContextError
from groundhog.names import validate_name
from groundhog.session import Session

SCHEME = "groundhog://"
CONTEXTS = SCHEME + "contexts"
EDITOR = SCHEME + "editor"
CONTEXT_PREFIX = SCHEME + "context/"
JSON = "application/json"
__all__ = ["brief_message"]  # the resume prompt's text, re-exported for the server

TEMPLATES = [
    ResourceTemplate(
        name="context",
        uri_template=CONTEXT_PREFIX + "{name}",
        description="A context's head (context/get); the name percent-encoded ('/' is %2F).",
        mime_type=JSON,
    ),
    ResourceTemplate(
        name="context-history",
        uri_template=CONTEXT_PREFIX + "{name}/history",
        description="A context's newest history entries (context/history).",
        mime_type=JSON,
    ),
]


@dataclass(frozen=True)
class Target:
    kind: str  # "contexts" | "editor" | "context" | "history"
    name: str | None = None


def context_uri(name: str) -> str:
    return CONTEXT_PREFIX + quote(name, safe="")


def history_uri(name: str) -> str:
    return context_uri(name) + "/history"


def parse_uri(uri: str) -> Target:
    """The resource a URI names; anything else is not found (INVALID_PARAMS on the wire)."""
    if uri == CONTEXTS:
        return Target("contexts")
    if uri == EDITOR:
        return Target("editor")
    if uri.startswith(CONTEXT_PREFIX):
        rest = uri[len(CONTEXT_PREFIX) :]
        kind = "context"
        if rest.endswith("/history"):
            rest, kind = rest[: -len("/history")], "history"
        if rest and "/" not in rest:
            name = unquote(rest)
            try:
                validate_name(name, "uri")
            except ContextError:
                raise ResourceNotFoundError(f"{uri!r} does not name a context (bad name).") from None
            return Target(kind, name)
    raise ResourceNotFoundError(f"There is no Groundhog resource {uri!r}.")


def listed(names: Iterable[str]) -> list[Resource]:
    fixed = [
        Resource(name="contexts", uri=CONTEXTS, description="The workspace's contexts.", mime_type=JSON),
        Resource(name="editor", uri=EDITOR, description="The editors' live state.", mime_type=JSON),
    ]
    return fixed + [
        Resource(
            name=f"context {name}", uri=context_uri(name), description=f"Head of {name!r}.", mime_type=JSON
        )
        for name in names
    ]


def context_names(session: Session) -> list[str]:
    """The names of the workspace's contexts (on the session's worker thread)."""
    return [str(item["name"]) for item in requests.list_contexts(session, p.Empty())["contexts"]]


def read(session: Session, target: Target) -> dict[str, Any]:
    """The resource's content (on the session's worker thread)."""
    if target.kind == "contexts":
        return requests.list_contexts(session, p.Empty())
    if target.kind == "editor":
        return editor_state(session, p.Empty())
    if target.kind == "context":
        return requests.get(session, p.GetParams.model_validate({"context": target.name}))
    return requests.history(session, p.HistoryParams.model_validate({"context": target.name}))
