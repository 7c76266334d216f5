"""One run per agent event, however many times Groundhog's hook is installed.

Claude Code runs a plugin's hooks and the settings files' hooks side by side, all at once, and
hands each the same JSON: the plugin beside ``groundhog hook install claude-code``, the plugin from
two marketplaces, ``--plugin-dir`` beside the installed plugin. Each copy would hand the model the
brief again and write the record again. So a run locks a file named by a hash of the agent, the
event and the input, and holds the lock until it (and its worker, which inherits it) ends; a copy
that finds the lock held answers nothing. A run that comes after another has ended is not a copy:
the lock is free again. (The transcript is no part of the name: the agent may be writing it
while its copies start.) Where no lock can be taken
(a read-only folder, no ``fcntl``), every copy runs, as before."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from contextlib import suppress
from pathlib import Path

CLAIM_TTL_S = 300.0  # longer than any run (a worker gives up after 30 s): only then is a file removed
FOLDER = "hook-claims"
_held: list[int] = []  # the claim's descriptor, open until the process ends


def first(agent: str, event: str, data: bytes) -> bool:
    """True when no other run of this very event is going on (this one goes on), False for a copy."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return True
    folder = _folder()
    if folder is None:
        return True
    digest = hashlib.sha256(f"{agent}\0{event}\0".encode() + data).hexdigest()
    _prune(folder)
    try:
        fd = os.open(folder / digest, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except OSError:
        os.close(fd)
        return True
    with suppress(OSError):
        os.utime(fd)  # in use now: no run prunes it while held
    _held.append(fd)
    return True


def _folder() -> Path | None:
    """The claims' folder beside the user's keys: a directory of this user's, never a symlink."""
    from groundhog.userconfig import default_config_dir

    folder = default_config_dir() / FOLDER
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return None
    return folder


def _prune(folder: Path) -> None:
    old = time.time() - CLAIM_TTL_S
    with suppress(OSError):
        for entry in os.scandir(folder):
            with suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < old:
                    os.unlink(entry.path)
