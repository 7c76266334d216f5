"""The server processes keep large buffers on the heap (server/groundhog/memory.py): appends to a
10 MB value reuse freed memory instead of mapping (and faulting in) 10 MB of fresh pages each time.
Counted in page faults, not time, in a process of its own (the setting is process-wide)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

APPENDS = 40
PAGES_PER_VALUE = (10 << 20) // 4096

SCRIPT = f"""
import resource, sys
from groundhog.memory import keep_large_buffers_on_the_heap
tuned = sys.argv[1] == "tuned" and keep_large_buffers_on_the_heap()
value = b"[" + b"x" * (10 << 20) + b"]"

def append(value):  # as changes._appends does: one join of the old bytes and the entry
    return b"".join((memoryview(value)[:-1], b',"' + b"y" * 1024 + b'"]'))

for _ in range(5):
    value = append(value)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range({APPENDS}):
    value = append(value)
print(int(tuned), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120, check=True
    )
    tuned, faults = done.stdout.split()
    return tuned == "1", int(faults)


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)
def test_appends_to_a_large_value_reuse_the_heap_instead_of_fresh_pages() -> None:
    tuned, faults = _faults("tuned")
    assert tuned
    # 40 appends to a 10 MB value: fewer page faults than one fresh copy of the value would take
    assert faults < PAGES_PER_VALUE, faults
    untuned, default_faults = _faults("default")
    assert not untuned
    assert default_faults > faults  # what the setting is for (glibc maps most of these afresh)


TRIM_SCRIPT = """
import ctypes, resource, sys
from groundhog.memory import IdleTrimmer, _free_heap, keep_large_buffers_on_the_heap

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

assert keep_large_buffers_on_the_heap(trim_when_idle=False)
libc = ctypes.CDLL("libc.so.6")
clock = [0.0]
trimmer = IdleTrimmer(lambda: clock[0], _free_heap(libc), lambda: libc.malloc_trim(0))
# 100 MB of 1 MB buffers with small survivors between them: freed, they are holes in the heap that
# glibc's own trim (at the top only) cannot give back
kept, large = [], []
for i in range(100):
    large.append(bytearray(b"x" * (1 << 20)))
    kept.append(bytes(64) * (i + 1))
del large
before = rss_mb()
clock[0] += 0.5  # a busy period...
assert not trimmer.step()
clock[0] += 0.001  # ...then an idle one: the free heap goes back
assert trimmer.step()
clock[0] += 0.001  # idle again: nothing new to give back, no second trim
assert not trimmer.step()
print(before, rss_mb(), trimmer.trims)
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim only"
)
def test_the_heap_goes_back_to_the_system_once_the_process_is_idle_after_a_busy_spell() -> None:
    """The price of the thresholds (freed large buffers stay resident) is paid back when idle."""
    done = subprocess.run(
        [sys.executable, "-c", TRIM_SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    before, after, trims = done.stdout.split()
    assert int(trims) == 1
    assert float(before) - float(after) > 50, done.stdout  # most of the 100 MB freed is handed back


def test_the_idle_trim_waits_for_an_idle_period_after_a_busy_one_and_enough_free_memory() -> None:
    from groundhog import memory

    clock, free, trimmed = [0.0], [64 << 20], []
    trimmer = memory.IdleTrimmer(lambda: clock[0], lambda: free[0], lambda: trimmed.append(clock[0]))

    def period(cpu_s: float) -> bool:
        clock[0] += cpu_s
        return trimmer.step()

    assert not period(0.001)  # idle from the start: nothing was allocated since, nothing to give back
    assert not period(0.5)  # busy
    assert not period(0.01)  # neither busy nor idle: maybe a slow agent's appends; wait
    assert period(0.001)  # idle after busy: trim
    assert not period(0.001)  # still idle: once is enough
    assert not period(0.5)
    free[0] = 1 << 20
    assert not period(0.0)  # idle, but too little is free to be worth a trim
    assert len(trimmed) == 1
