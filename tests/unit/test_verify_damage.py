"""One flipped byte anywhere in the store file, the schema pages included: `groundhog verify` answers
(exit 0 when the byte was unused, 1 with where the damage is) and never crashes or prints a
traceback; opening the store for a request fails with a sentence, never a decoding error."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from tests.conftest import StoreEnv

from groundhog import ContextError, create_manager
from groundhog.changes import Change
from groundhog.cli import main


def _flips(size: int) -> list[int]:
    """Every 61st byte of the first pages (header, schema), then every 397th."""
    return [*range(0, min(size, 8192), 61), *range(8192, size, 397)]


def _run(*args: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, err.getvalue() + out.getvalue()


@pytest.mark.slow
@pytest.mark.sqlite_only  # the SQLite file itself
def test_one_flipped_byte_anywhere_is_reported_never_a_crash(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("default")
    tracker = manager.tracker("default")
    for n in range(5):
        tracker.update(Change(set={f"k{n}": "v" * 300, "name": f"n{n}"}))
    tracker.create_snapshot("s")
    manager.audit("note", "tests", {"n": 1})
    database = manager.store.path
    manager.close()
    original = database.read_bytes()
    outcomes: dict[int, int] = {}
    for offset in _flips(len(original)):
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{database}{suffix}")
        database.write_bytes(bytes(damaged))
        code, text = _run("verify", "--workspace", str(store_env.workspace))
        assert code in (0, 1), (offset, text)
        assert "Traceback" not in text and "the command failed" not in text, (offset, text)
        assert str(Path(store_env.store_dir)) not in text, (offset, text)
        outcomes[code] = outcomes.get(code, 0) + 1
        try:
            opened = create_manager(
                store_env.workspace,
                store_dir=store_env.store_dir,
                config_dir=store_env.config_dir,
                read_only=True,
            )
        except ContextError:
            continue
        with contextlib.suppress(ContextError):
            opened.tracker("default").read()
        opened.close()
    assert outcomes.get(1, 0) > 0, outcomes  # damage was found, not only tolerated
