"""A hook's record finished even when the agent stops waiting for it.

The agents end hooks early: Claude Code gives a plugin's SessionEnd hooks 1.5 s whatever their
``timeout`` says, then kills the hook's process group (SIGTERM, then SIGKILL); every agent kills a
hook that outlives its timeout; and ten sessions stopping at once wait for each other's write lock.
A record cut short there is lost (the session's end, its snapshot, the last lines of its
transcript). So the recording events run their work in a worker of their own: forked before the
store is opened, in a new session (out of reach of a kill aimed at the hook's group), its stdio
off the agent's pipes (agents wait for those to close). The hook waits for the worker until its
own deadline, passes on the worker's one line of stderr, and exits 0; a worker still busy then
finishes alone, up to its own longer deadline, after which an unfinished write is rolled back by
the store. Where there is no ``fork`` the work runs in the hook itself."""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable

READ_CHUNK = 4096


def process_age() -> float:
    """Seconds since this process started: an agent's timeout runs from the spawn, and a loaded
    machine can spend seconds importing before ``main`` runs. 0 where /proc does not say."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the command's name may hold spaces
        with open("/proc/uptime", "rb") as uptime:
            now = float(uptime.read().split()[0])
        return max(0.0, now - int(fields[19]) / os.sysconf("SC_CLK_TCK"))  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return 0.0


def can_detach() -> bool:
    return hasattr(os, "fork") and hasattr(os, "setsid")


def finish(work: Callable[[], None], *, wait_s: float, worker_s: float, warn: Callable[[str], None]) -> None:
    """Run ``work`` in a detached worker; return when it is done or ``wait_s`` has passed. ``work``
    reports problems as lines on stderr (the worker's goes to this process's through a pipe)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the worker (its coverage is the tests' real processes)
        os.close(read_end)
        _worker(work, write_end, worker_s, warn)
    os.close(write_end)
    said, done = _collect(read_end, time.monotonic() + wait_s)
    os.close(read_end)
    lines = said.decode("utf-8", "replace").strip().splitlines()
    if lines:
        sys.stderr.write(lines[0] + "\n")
    elif not done:
        warn("the store is busy; this record is being finished in the background")
    if done:
        os.waitpid(pid, 0)  # the worker closed its end as it exited: reap it


def _worker(work: Callable[[], None], report: int, worker_s: float, warn: Callable[[str], None]) -> None:
    """The forked worker: its own session, stdin and stdout on /dev/null, stderr into ``report``."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(report, 2)
        os.close(null)
        os.close(report)

        def give_up() -> None:
            warn(f"gave up after {worker_s:g} s (the store did not answer); nothing more was recorded")
            os._exit(0)

        timer = threading.Timer(worker_s, give_up)
        timer.daemon = True
        timer.start()
        work()
    finally:
        os._exit(0)


def _collect(fd: int, deadline: float) -> tuple[bytes, bool]:
    """What the worker wrote until it exited (end of file: True) or the deadline (False)."""
    said = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return said, False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return said, False
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            return said, True
        said = (said + chunk)[:READ_CHUNK]
