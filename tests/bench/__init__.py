"""The bench smoke tests check the shape of what the benches measure, never its size: a timing or a
ratio of timings is whatever a loaded 2-core machine made it (bench/ reports those)."""

from __future__ import annotations

import math
from typing import Any


def is_measure(value: Any) -> bool:
    """A duration, rate or ratio as the bench reports it: a real number (a ratio over a zero
    baseline is infinite), whatever its size."""
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
