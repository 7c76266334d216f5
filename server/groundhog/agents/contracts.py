"""The hook contracts of the agents whose documentation we could read: which event names each agent
sends, where its hook JSON keeps the session id, the folder and the transcript, and how it wants
the SessionStart context answered. Everything else of a hook is agent-neutral (``HookInput``).

- Claude Code (code.claude.com/docs/en/hooks): SessionStart (source startup|resume|clear|compact),
  UserPromptSubmit, PreCompact, Stop, SessionEnd; context in
  ``hookSpecificOutput.additionalContext``; other events answer nothing (Stop and PreCompact
  refuse a ``hookSpecificOutput``).
- Codex CLI (codex-rs/hooks schemas): the same names and fields as Claude Code; its transcript
  is a rollout file. Its older ``notify`` program gets one JSON argument per finished turn
  (``agent-turn-complete``: ``thread-id``, ``cwd``, ``input-messages``, ``last-assistant-message``):
  ``groundhog hook codex notify '<json>'`` records it like a Stop without a transcript.
- Gemini CLI (docs/hooks/reference.md): SessionStart, BeforeAgent, PreCompress, AfterAgent,
  SessionEnd; stdout must be JSON only, so every event answers an object.
- Cursor (hooks.json version 1): sessionStart, beforeSubmitPrompt, preCompact, stop, sessionEnd;
  ``conversation_id`` and ``workspace_roots``; context in ``additional_context``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

START, PROMPT, COMPACT, STOP, END = "start", "prompt", "compact", "stop", "end"
# A session id as the agents make them (a UUID, a rollout or conversation id): it names the
# session's record, its snapshot and its captured transcript, so it is never a path or a blob.
SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")  # source, reason, trigger: one short word


@dataclass(frozen=True)
class Contract:
    name: str
    events: dict[str, str]  # the agent's event name -> what it means to us
    transcript_format: str | None  # "claude" | "codex" | None (not a JSONL we read)
    answers_json: bool = False  # every answer must be a JSON object (Gemini, Cursor)
    context_field: str = "hookSpecificOutput"  # where SessionStart's context goes


_CLAUDE_EVENTS = {
    "SessionStart": START,
    "UserPromptSubmit": PROMPT,
    "PreCompact": COMPACT,
    "Stop": STOP,
    "SessionEnd": END,
}
AGENTS: dict[str, Contract] = {
    "claude-code": Contract("claude-code", _CLAUDE_EVENTS, "claude"),
    "codex": Contract(
        "codex", {**{k: v for k, v in _CLAUDE_EVENTS.items() if k != "SessionEnd"}, "notify": STOP}, "codex"
    ),
    "gemini": Contract(
        "gemini",
        {
            "SessionStart": START,
            "BeforeAgent": PROMPT,
            "PreCompress": COMPACT,
            "AfterAgent": STOP,
            "SessionEnd": END,
        },
        None,
        answers_json=True,
    ),
    "cursor": Contract(
        "cursor",
        {
            "sessionStart": START,
            "beforeSubmitPrompt": PROMPT,
            "preCompact": COMPACT,
            "stop": STOP,
            "sessionEnd": END,
        },
        None,  # its transcript's shape is not documented: progress comes from the hook's input
        answers_json=True,
        context_field="additional_context",
    ),
}


class HookProblem(Exception):
    """What makes a hook answer nothing useful (one line on stderr, exit 0, store unchanged)."""


@dataclass(frozen=True)
class HookInput:
    agent: str
    event: str  # the agent's own event name
    kind: str  # START | PROMPT | COMPACT | STOP | END
    session_id: str
    cwd: str
    transcript: str | None
    source: str | None  # SessionStart: startup | resume | clear | compact
    prompt: str | None
    last_message: str | None
    reason: str | None  # SessionEnd's reason, PreCompact's trigger


def contract(agent: str, event: str) -> tuple[Contract, str]:
    found = AGENTS.get(agent)
    if found is None:
        raise HookProblem(f"unknown agent {agent[:40]!r} (known: {', '.join(AGENTS)})")
    kind = found.events.get(event)
    if kind is None:
        raise HookProblem(f"unknown {agent} event {event[:40]!r} (known: {', '.join(found.events)})")
    return found, kind


def parse_input(agent: Contract, event: str, kind: str, payload: Any) -> HookInput:
    """The agent's hook JSON as a ``HookInput``; HookProblem names what is missing."""
    if not isinstance(payload, dict):
        raise HookProblem("the hook input is not a JSON object")
    if event == "notify":  # Codex's notify program: kebab-case keys
        payload = _from_notify(payload)
    session = _text(payload, "conversation_id" if agent.name == "cursor" else "session_id")
    if session is None:
        session = _text(payload, "session_id")
    if session is None:
        raise HookProblem("the hook input has no session id")
    if not SESSION_ID.fullmatch(session) or ".." in session:
        raise HookProblem("the hook input's session id is not a plain id (letters, digits, '.', '_', '-')")
    cwd = _cwd(payload)
    if cwd is None:
        raise HookProblem("the hook input has no absolute working directory ('cwd')")
    return HookInput(
        agent=agent.name,
        event=event,
        kind=kind,
        session_id=session,
        cwd=cwd,
        transcript=_path(payload, "transcript_path"),
        source=_word(payload, "source") or _word(payload, "trigger") if kind == START else None,
        prompt=_text(payload, "prompt"),
        last_message=_text(payload, "last_assistant_message") or _text(payload, "prompt_response"),
        reason=_word(payload, "reason") or _word(payload, "trigger"),
    )


def _from_notify(payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("type") != "agent-turn-complete":
        raise HookProblem("the notify input is not an agent-turn-complete event")
    messages = payload.get("input-messages")
    prompt = messages[-1] if isinstance(messages, list) and messages else None
    return {
        "session_id": payload.get("thread-id") or payload.get("turn-id"),
        "cwd": payload.get("cwd"),
        "prompt": prompt,
        "last_assistant_message": payload.get("last-assistant-message"),
    }


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\\ud800"): stored as U+FFFD
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _word(payload: dict[str, Any], key: str) -> str | None:
    value = _text(payload, key)
    return value if value is not None and _WORD.fullmatch(value) else None


def _path(payload: dict[str, Any], key: str) -> str | None:
    """An absolute path (a relative one would be read against wherever the hook was started)."""
    value = _text(payload, key)
    if value is None or not os.path.isabs(value) or "\0" in value:
        return None
    return os.path.normpath(value)


def _cwd(payload: dict[str, Any]) -> str | None:
    cwd = _path(payload, "cwd")
    if cwd is None and "cwd" not in payload:  # Cursor: the workspace's roots
        roots = payload.get("workspace_roots")
        if isinstance(roots, list) and roots:
            cwd = _path({"root": roots[0]}, "root")
    return cwd


def answer(agent: Contract, kind: str, context: str | None) -> str | None:
    """What the hook prints on stdout: None for nothing at all."""
    import json

    if kind == START and context:
        if agent.context_field == "additional_context":
            return json.dumps({"additional_context": context})
        return json.dumps(
            {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}}
        )
    return "{}" if agent.answers_json else None
