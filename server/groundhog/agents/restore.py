"""Where each agent looks for its sessions on this machine, and writing a captured session there:
Claude Code keeps ``<config dir>/projects/<folder>/<session id>.jsonl`` (config dir:
``CLAUDE_CONFIG_DIR``, else ``~/.claude``), the folder being the project's real path (symlinks
resolved, as Claude Code's working directory is) with every UTF-16 code unit other than an ASCII
letter or digit made '-', and past 200 characters cut there and followed by '-' and its string
hash in base 36 (as Claude Code 2.1 names it); Codex keeps rollout files under
``$CODEX_HOME/sessions/YYYY/MM/DD/``. An existing file is never overwritten without ``force``; the
file is written whole (temporary file, fsync, rename), private to the user."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from groundhog.errors import AlreadyExists, InvalidParams, PersistenceError

_FOLDER_CHARS = 200
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def claude_project_dir(root: str) -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return Path(base) / "projects" / claude_folder_name(os.path.realpath(root))


def claude_folder_name(path: str) -> str:
    """Claude Code's name for a project's folder of sessions (see the module's docstring)."""
    units = path.encode("utf-16-le", "surrogatepass")
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    name = "".join(chr(c) if c < 128 and chr(c).isalnum() else "-" for c in codes)
    if len(name) <= _FOLDER_CHARS:
        return name
    digest = 0
    for code in codes:  # Java's String.hashCode, as a 32-bit signed integer
        digest = (digest * 31 + code) & 0xFFFFFFFF
    digest = abs(digest - (1 << 32) if digest >= 1 << 31 else digest)
    text = ""
    while True:
        digest, digit = divmod(digest, 36)
        text = _BASE36[digit] + text
        if not digest:
            return f"{name[:_FOLDER_CHARS]}-{text}"


def target_path(agent: str, session_id: str, meta: dict[str, Any], root: str) -> Path:
    if agent == "claude-code":
        return claude_project_dir(root) / f"{session_id}.jsonl"
    if agent == "codex":
        home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
        started = str(meta.get("started") or "")  # a shared store's meta is a teammate's: checked
        day = started[:10].split("-") if _DAY.fullmatch(started[:10]) else ["1970", "01", "01"]
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
