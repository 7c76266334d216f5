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
