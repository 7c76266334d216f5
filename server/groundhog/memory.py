"""Large buffers from the heap, not fresh mappings, in the long-running processes (serve, mcp).

An append to a 10 MB transcript builds the value's new encoding (10 MB) and frees the old one. glibc
serves a request that large with a fresh mmap whenever no free chunk fits, and a value that grows by
a kilobyte each time rarely fits the hole the previous one left: every append then paid the kernel
for zeroing 10 MB of new pages and unmapping the old ones (bench.growth, transcript: 6.7 ms p50 for an
append at 10 MB against 0.7 ms at 10 KB). With every buffer up to the largest state (64 MiB, plus
framing) served from the heap, freed ones are reused: 1.9 ms. The heap's top is still handed back
to the system once 128 MiB of it is free, so a burst of large states does not pin its memory for good.

Only glibc has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import platform

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 << 20  # above the largest state a request may carry (64 MiB) and its copies
TRIM_THRESHOLD = 128 << 20


def keep_large_buffers_on_the_heap() -> bool:
    """Set glibc's thresholds (see the module's docstring); True when they were set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname (find_library would run ldconfig at start)
        done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
        done = bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1) and done
    except (OSError, AttributeError):
        done = False
    if not done:
        log.debug("the allocator's thresholds were left as they were")
    return done
