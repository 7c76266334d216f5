"""Large buffers from the heap, not fresh mappings, in the long-running processes (serve, mcp), and
the heap handed back to the system once they go idle.

An append to a 10 MB transcript builds the value's new encoding (10 MB) and frees the old one. glibc
serves a request that large with a fresh mmap whenever no free chunk fits, and a value that grows by
a kilobyte each time rarely fits the hole the previous one left: every append then paid the kernel
for zeroing 10 MB of new pages and unmapping the old ones (bench.growth, transcript: 6.7 ms p50 for an
append at 10 MB against 0.7 ms at 10 KB). With every buffer up to the largest state (64 MiB, plus
framing) served from the heap, freed ones are reused: 1.9 ms.

The price is memory: freed chunks stay resident, scattered through the heap, where glibc's trim
(only at the heap's top, past its threshold) rarely reaches them. After 10,000 appends of 1 KB the
process held 123 MB against 88 MB with glibc's defaults (issue 23, bench/memory.py). So a thread
calls ``malloc_trim(0)``, which returns every free page of every arena, once the process goes idle
after a busy spell (a second using almost no CPU after one that used some) and the heap holds
enough free memory to matter: bursts of appends keep their buffers, an idle server keeps only
what it uses (70 MB there). A trim takes 1-7 ms on its own thread (ctypes releases the GIL).

Only glibc has ``mallopt`` and ``malloc_trim``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 << 20  # above the largest state a request may carry (64 MiB) and its copies
TRIM_THRESHOLD = 128 << 20
TRIM_PERIOD_S = 1.0
BUSY_CPU_S = 0.02  # a period that used this much CPU or more was busy...
IDLE_CPU_S = 0.005  # ...one that used less than this is idle
TRIM_MIN_FREE = 16 << 20  # free heap bytes below which a trim is not worth it


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost",
        )
    ]  # fmt: skip


def _glibc() -> Any | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")  # glibc's soname (find_library would run ldconfig at start)
    except OSError:
        return None


def keep_large_buffers_on_the_heap(*, trim_when_idle: bool = True) -> bool:
    """Set glibc's thresholds (see the module's docstring) and start the idle trim; True when the
    thresholds were set."""
    libc = _glibc()
    try:
        done = libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
        done = done and libc is not None and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    except AttributeError:
        done = False
    if not done:
        log.debug("the allocator's thresholds were left as they were")
    elif trim_when_idle:
        IdleTrimmer.start_once(libc)
    return done


class IdleTrimmer:
    """Decides, once a period, whether to hand the free heap back (``step``); one daemon thread per
    process runs it (``start_once``)."""

    _started: IdleTrimmer | None = None
    _lock = threading.Lock()

    def __init__(
        self, cpu_time: Callable[[], float], free_bytes: Callable[[], int], trim: Callable[[], None]
    ) -> None:
        self._cpu_time = cpu_time
        self._free_bytes = free_bytes
        self._trim = trim
        self._last = cpu_time()
        self._busy = False
        self.trims = 0

    def step(self) -> bool:
        """One period went by: trim if it was idle after a busy one and enough is free."""
        now = self._cpu_time()
        used, self._last = now - self._last, now
        if used >= BUSY_CPU_S:
            self._busy = True
            return False
        if not self._busy or used >= IDLE_CPU_S:
            return False
        self._busy = False
        if self._free_bytes() < TRIM_MIN_FREE:
            return False
        self._trim()
        self.trims += 1
        return True

    @classmethod
    def start_once(cls, libc: Any, period_s: float = TRIM_PERIOD_S) -> IdleTrimmer:
        with cls._lock:
            if cls._started is None:
                trimmer = cls(time.process_time, _free_heap(libc), lambda: libc.malloc_trim(0))
                thread = threading.Thread(
                    target=trimmer._run, args=(period_s,), name="groundhog-heap-trim", daemon=True
                )
                thread.start()
                cls._started = trimmer
            return cls._started

    def _run(self, period_s: float) -> None:
        while True:
            time.sleep(period_s)
            try:
                self.step()
            except Exception:  # never let the trim take the process down; it is only memory
                log.debug("the idle heap trim failed", exc_info=True)
                return


def _free_heap(libc: Any) -> Callable[[], int]:
    """Free bytes in the heap's arenas (``mallinfo2``, glibc 2.33+); without it, always enough."""
    try:
        mallinfo2 = libc.mallinfo2
    except AttributeError:
        return lambda: TRIM_MIN_FREE
    mallinfo2.restype = _MallInfo2
    return lambda: int(mallinfo2().fordblks)
