"""What an agent asks first: what the people on this workspace have open (``editor_state``), and one
brief of where things stand (``resume``). Face-agnostic like ``groundhog.requests``: validated
params in, a JSON-ready result out, run on the session's worker thread. The brief itself is built
by ``groundhog.briefing`` (which the agents' hooks share)."""

from __future__ import annotations

from typing import Any

from groundhog import briefing
from groundhog import params as p
from groundhog.requests import Handler
from groundhog.session import Session


def editor_state(session: Session, _: p.Empty) -> dict[str, Any]:
    """The live editor sessions on the workspace and the editor state last persisted into a context."""
    return briefing.editor_state(session.manager)


def resume(session: Session, params: p.ResumeParams) -> dict[str, Any]:
    """Workspace, active context (version, last change), its keys and their sizes, the newest
    snapshots, the changes since ``sinceVersion`` (history entries, and the diff when small), and
    the editor state."""
    name = session.adapter.active_name
    brief = briefing.build_brief(
        session.manager,
        None if name is None else session.tracker(name),
        workspace_uri=session.workspace_uri,
        session={"id": session.id, "readOnly": session.read_only},
        since_version=params.since_version,
    )
    if session.adapter.missing is not None:  # started (read-only) in a context that does not exist
        brief["missingContext"] = session.adapter.missing
    return brief


AGENT_REQUESTS: dict[str, tuple[type[p.Params], Handler]] = {
    "editor_state": (p.Empty, editor_state),
    "resume": (p.ResumeParams, resume),
}
