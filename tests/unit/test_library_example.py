"""The library example of docs/library.md (once the README's), run as written (only the workspace path is
the test's own)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "library.md"


def _library_example() -> str:
    match = re.search(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert match is not None, "docs/library.md has no library example"
    return match.group(1)


async def test_the_library_example_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDHOG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(tmp_path / "config"))
    code = _library_example().replace("/path/to/workspace", str(tmp_path / "workspace"))
    namespace: dict[str, Any] = {}
    exec(f"async def example():\n{textwrap.indent(code, '    ')}\n    return locals()", namespace)
    done = await namespace["example"]()
    tracker, snapshot = done["tracker"], done["snapshot"]
    assert snapshot.label == "before refactor"
    assert tracker.get_state().data == {"plan": ["read the code", "write the test"]}
    # the snapshot is of the head itself: restoring it changes nothing, so no version (decision 7)
    assert [e.kind for e in tracker.history()[0]] == ["update", "create"]
    done["adapter"].close()
    done["manager"].close()
