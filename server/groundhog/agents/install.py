"""``groundhog hook install | uninstall claude-code [--project [DIR]]``: Groundhog's hook entries in
Claude Code's settings file (the user's ``~/.claude/settings.json``, or a project's
``.claude/settings.json``). Idempotent, says what it changed, removes exactly what it added (the
entries whose command is Groundhog's hook command), keeps every other key and hook as it was,
writes atomically and keeps the file's mode. The plugin (``clients/claude-code/``) is the other way."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

from groundhog.errors import InvalidParams, PersistenceError

EVENTS = ("SessionStart", "PreCompact", "Stop", "SessionEnd")
HOOK_TIMEOUT_S = 10
MAX_SETTINGS_BYTES = 16 << 20  # Claude Code's settings are a few KB: more is not a settings file
_OURS = re.compile(r"(?:^|[\s/'\"])(?:groundhog|-m groundhog)'?\s+hook\s+claude-code\s+(\w+)\s*$")


def settings_path(project: str | None) -> Path:
    if project is not None:
        return Path(project).resolve() / ".claude" / "settings.json"
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return Path(base) / "settings.json"


def hook_command(event: str, *, shared: bool = False) -> str:
    """How Claude Code starts this very ``groundhog``: the script it was started as, else
    ``python -m groundhog``. In a project's settings (``shared``: the file goes into the
    repository, for teammates whose ``groundhog`` lives elsewhere) plain ``groundhog`` when the one
    on PATH is this one."""
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(script) != "groundhog" or not os.access(script, os.X_OK):
        script = os.path.join(os.path.dirname(sys.executable), "groundhog")  # this venv's, if any
    on_path = shutil.which("groundhog")
    if shared and on_path and os.path.exists(script) and os.path.samefile(on_path, script):
        program = "groundhog"
    elif os.path.abspath(sys.argv[0] if sys.argv else "") == script and os.access(script, os.X_OK):
        program = shlex.quote(script)
    else:
        program = f"{shlex.quote(sys.executable)} -m groundhog"
    return f"{program} hook claude-code {event}"


def is_ours(hook: Any) -> bool:
    return (
        isinstance(hook, dict)
        and isinstance(hook.get("command"), str)
        and bool(_OURS.search(hook["command"]))
    )


def install(path: Path, *, shared: bool = False) -> list[str]:
    settings, mode = _load(path)
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InvalidParams(f"{path}: 'hooks' is not an object; nothing was changed.", field="hooks")
    changes = []
    for event in EVENTS:
        wanted = {"type": "command", "command": hook_command(event, shared=shared), "timeout": HOOK_TIMEOUT_S}
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise InvalidParams(f"{path}: hooks.{event} is not a list; nothing was changed.", field=event)
        present = [h for g in groups if isinstance(g, dict) for h in g.get("hooks") or [] if is_ours(h)]
        if present == [wanted]:
            continue
        _drop_ours(groups)
        groups.append({"matcher": "", "hooks": [wanted]})
        changes.append(f"{'updated' if present else 'added'} the {event} hook")
    if changes:
        _save(path, settings, mode)
    return changes


def uninstall(path: Path) -> list[str]:
    if not path.exists():
        return []
    settings, mode = _load(path)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return []
    changes = []
    for event in list(hooks):
        groups = hooks[event]
        if isinstance(groups, list) and _drop_ours(groups):
            changes.append(f"removed the {event} hook")
            if not groups:
                del hooks[event]
    if not hooks:
        del settings["hooks"]
    if changes:
        _save(path, settings, mode)
    return changes


def _drop_ours(groups: list[Any]) -> bool:
    dropped = False
    for group in list(groups):
        if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
            continue
        kept = [h for h in group["hooks"] if not is_ours(h)]
        if len(kept) != len(group["hooks"]):
            dropped = True
            if kept:
                group["hooks"] = kept
            else:
                groups.remove(group)
    return dropped


def _load(path: Path) -> tuple[dict[str, Any], int | None]:
    if path.is_symlink():
        raise PersistenceError(f"{path} is a symlink; nothing was changed.")
    try:  # never blocks on a FIFO, never follows a symlink planted since
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return {}, None
    except OSError as error:
        raise PersistenceError(f"{path} cannot be read ({error.strerror}); nothing was changed.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise PersistenceError(f"{path} is not a regular file; nothing was changed.")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise InvalidParams(
            f"{path} is larger than {MAX_SETTINGS_BYTES >> 20} MB; nothing was changed.", field="settings"
        )
    try:
        settings = json.loads(data) if data.strip() else {}
    except (ValueError, RecursionError):
        raise InvalidParams(f"{path} is not valid JSON; nothing was changed.", field="settings") from None
    if not isinstance(settings, dict):
        raise InvalidParams(f"{path} is not a JSON object; nothing was changed.", field="settings")
    return settings, stat.S_IMODE(info.st_mode)


def _save(path: Path, settings: dict[str, Any], mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.groundhog-{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode if mode is not None else 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
