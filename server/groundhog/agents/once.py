"""One run per agent event, however many times Groundhog's hook is installed.

Claude Code runs a plugin's hooks and the settings files' hooks side by side, all at once, and
hands each the same JSON: the plugin beside ``groundhog hook install claude-code``, the plugin from
two marketplaces, ``--plugin-dir`` beside the installed plugin. Each copy would hand the model the
brief again and write the record again. So a run locks a file named by a hash of the agent, the
event and the input, and holds the lock until it (and its worker, which inherits it) ends; a copy
that finds the lock held answers nothing. A run that comes after another has ended is not a copy:
the lock is free again. (The transcript is no part of the name: the agent may be writing it
while its copies start.) Except for a session's start, whose copies would hand the model the brief
twice: on a loaded machine a copy can start after the first has already answered, so a start is a
copy for ``START_COPIES_S`` after the first one claimed it (the claim's time is in its file). Where no
lock can be taken (a read-only folder, no ``fcntl``), every copy runs, as before."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from contextlib import suppress
from pathlib import Path

CLAIM_TTL_S = 300.0  # longer than any run (a worker gives up after 30 s): only then is a file removed
START_COPIES_S = 10.0  # how late a copy of a session start may begin (the agent starts them at once)
FOLDER = "hook-claims"
_held: list[int] = []  # the claim's descriptor, open until the process ends


def first(agent: str, event: str, data: bytes, *, settle_s: float = 0.0) -> bool:
    """True when no other run of this very event is going on (this one goes on), False for a copy;
    with ``settle_s``, also False when another run claimed it less than that long ago."""
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
    if settle_s and _claimed_within(fd, settle_s):
        os.close(fd)
        return False
    with suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, repr(time.time()).encode(), 0)  # when: for the copies that come late
        os.utime(fd)  # in use now: no run prunes it while held
    _held.append(fd)
    return True


def _claimed_within(fd: int, seconds: float) -> bool:
    try:
        claimed = float(os.pread(fd, 64, 0).decode() or "nan")
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return 0.0 <= time.time() - claimed < seconds


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
