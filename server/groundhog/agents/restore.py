"""Where each agent looks for its sessions on this machine, and writing a captured session there:
Claude Code keeps ``<config dir>/projects/<the project path with every character other than a
letter or digit made '-'>/<session id>.jsonl`` (config dir: ``CLAUDE_CONFIG_DIR``, else
``~/.claude``); Codex keeps rollout files under ``$CODEX_HOME/sessions/YYYY/MM/DD/``. An existing
file is never overwritten without ``force``; the file is written whole (temporary file, fsync,
rename), private to the user."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from groundhog.errors import AlreadyExists, InvalidParams, PersistenceError

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def claude_project_dir(root: str) -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return Path(base) / "projects" / _NOT_ALNUM.sub("-", os.path.normpath(root))


def target_path(agent: str, session_id: str, meta: dict[str, Any], root: str) -> Path:
    if agent == "claude-code":
        return claude_project_dir(root) / f"{session_id}.jsonl"
    if agent == "codex":
        home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
        started = str(meta.get("started") or "")
        day = started[:10].split("-") if len(started) >= 10 else ["1970", "01", "01"]
        name = str(meta.get("transcript") or f"rollout-{session_id}.jsonl")
        if "/" in name or name.startswith(".") or not name.endswith(".jsonl"):
            name = f"rollout-{session_id}.jsonl"
        return Path(home) / "sessions" / day[0] / day[1] / day[2] / name
    raise InvalidParams(
        f"Sessions of {agent!r} cannot be restored (only claude-code and codex).", field="agent"
    )


def write_session(path: Path, lines: list[str], *, force: bool) -> None:
    """Write ``lines`` to ``path`` (never through a symlink; an existing file only with ``force``)."""
    if path.is_symlink():
        raise PersistenceError("The session file's place is a symlink; nothing was written.")
    if path.exists() and not force:
        raise AlreadyExists(
            "A session file with this id already exists there; pass --force to replace it.", path=str(path)
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            for line in lines:
                handle.write(line.encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
