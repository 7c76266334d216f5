"""Damage between two editor sessions: the next session recovers the damaged head to the newest
valid version, says so with `context/didRecover`, and records a `recover` version; the people CLI's
`verify` reports the damage set aside until it is explicitly discarded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.harness import Env, run_cli


def flip_head_delta(db: Path, context_version: int) -> None:
    """Flip one bit of the head version's delta blob, behind the server's back."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        (context_id,) = conn.execute(
            "SELECT context_id FROM versions WHERE version = ? AND delta_blob IS NOT NULL", (context_version,)
        ).fetchone()
        (blob,) = conn.execute(
            "SELECT delta_blob FROM versions WHERE context_id = ? AND version = ?",
            (context_id, context_version),
        ).fetchone()
        damaged = bytearray(blob)
        damaged[-5] ^= 0x01
        conn.execute(
            "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?",
            (bytes(damaged), context_id, context_version),
        )
    finally:
        conn.close()


async def test_a_damaged_head_is_recovered_and_the_editor_is_told(
    open_client: Callable[..., Any], env: Env
) -> None:
    first = await open_client()
    for n in range(2, 6):
        await first.request("context/update", {"set": {"n": n, f"k{n}": True}})
    valid = await first.request("context/get", {"version": 4})
    db = Path((await first.request("context/status"))["store"]["path"])
    await first.close()
    flip_head_delta(db, 5)
    code, out, _ = run_cli(env, "verify")
    assert code == 1 and "DAMAGED" in out

    second = await open_client()
    await second.request("context/status")
    assert second.notifications["context/didRecover"] == [
        {
            "context": "default",
            "fromVersion": 5,
            "toVersion": 4,
            "reason": second.notifications["context/didRecover"][0]["reason"],
        }
    ]
    assert isinstance(second.notifications["context/didRecover"][0]["reason"], str)
    got = await second.request("context/get")
    assert got["version"] == 6 and got["data"] == valid["data"]
    entry = (await second.request("context/history", {"limit": 1}))["entries"][0]
    assert entry["version"] == 6 and entry["kind"] == "recover"
    restore = second.notifications["context/didRestore"][0]
    assert restore["context"] == "default" and restore["version"] == 6
    # the session works on from the recovered state
    result = await second.request("context/update", {"set": {"after": 1}})
    assert result["version"] == 7
    await second.close()

    # damage set aside is still damage until it is discarded on purpose
    code, out, _ = run_cli(env, "verify")
    assert code == 1, out
    code, out, _ = run_cli(env, "verify", "--discard-damaged")
    assert code == 0 and "ok" in out, out
    code, out, _ = run_cli(env, "verify")
    assert code == 0, out
    third = await open_client()
    await third.request("context/status")
    assert third.notifications["context/didRecover"] == []
    assert (await third.request("context/get"))["data"] == {**valid["data"], "after": 1}
