"""Damage between two editor sessions: the next session recovers the damaged head to the newest
valid version, says so with `context/didRecover`, and records a `recover` version; the people CLI's
`verify` reports the damage set aside until it is explicitly discarded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Env, assert_error, run_cli

pytestmark = pytest.mark.one_profile  # damage in the store: the client profile changes nothing


def _flip(blob: bytes) -> bytes:
    damaged = bytearray(blob)
    damaged[-5] ^= 0x01
    return bytes(damaged)


def flip_head_delta(db: Path, context_version: int, context_id: int | None = None) -> None:
    """Flip one bit of a version's delta blob, behind the server's back."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        if context_id is None:
            (context_id,) = conn.execute(
                "SELECT context_id FROM versions WHERE version = ? AND delta_blob IS NOT NULL",
                (context_version,),
            ).fetchone()
        (blob,) = conn.execute(
            "SELECT delta_blob FROM versions WHERE context_id = ? AND version = ?",
            (context_id, context_version),
        ).fetchone()
        conn.execute(
            "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?",
            (_flip(blob), context_id, context_version),
        )
    finally:
        conn.close()


def newest_context_id(db: Path) -> int:
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        return int(conn.execute("SELECT max(id) FROM contexts").fetchone()[0])
    finally:
        conn.close()


def ruin_context(db: Path, context_id: int) -> None:
    """Damage every checkpoint and delta of one context: nothing valid is left to recover to."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        for version, blob in conn.execute(
            "SELECT version, blob FROM checkpoints WHERE context_id = ?", (context_id,)
        ).fetchall():
            conn.execute(
                "UPDATE checkpoints SET blob = ? WHERE context_id = ? AND version = ?",
                (_flip(blob), context_id, version),
            )
        for version, blob in conn.execute(
            "SELECT version, delta_blob FROM versions WHERE context_id = ? AND delta_blob IS NOT NULL",
            (context_id,),
        ).fetchall():
            conn.execute(
                "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?",
                (_flip(blob), context_id, version),
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
    code, out, _ = run_cli(env, "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["problems"]
    assert all(p["where"] and p["problem"] for p in report["problems"])

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


async def test_damage_while_a_server_runs_is_repaired_by_the_next_one_to_open(
    open_client: Callable[..., Any], env: Env
) -> None:
    """A running server keeps serving the head it holds; the next process to open the store finds
    the damage, recovers, tells its own client (didRecover) and the running one (didChange)."""
    running = await open_client()
    await running.request("context/create", {"name": "side"})
    await running.request("context/update", {"context": "side", "set": {"a": 1}})
    await running.request("context/update", {"context": "side", "set": {"a": 2}})
    db = Path((await running.request("context/status"))["store"]["path"])
    flip_head_delta(db, 3, newest_context_id(db))
    opening = await open_client()
    event = await opening.wait_for("context/didRecover")
    assert (event["context"], event["fromVersion"], event["toVersion"]) == ("side", 3, 2)
    got = await opening.request("context/get", {"context": "side"})
    assert got["data"] == {"a": 1} and got["version"] == 4
    await running.wait_for("context/didChange", lambda e: e["context"] == "side" and e["kind"] == "recover")
    assert (await running.request("context/get", {"context": "side"}))["data"] == {"a": 1}
    assert (await running.request("context/get"))["context"] == "default"


async def test_damage_beyond_repair_answers_recovery_error(open_client: Callable[..., Any], env: Env) -> None:
    first = await open_client()
    await first.request("context/update", {"set": {"safe": True}})
    await first.request("context/switch", {"name": "lost", "create": True})
    await first.request("context/update", {"set": {"gone": 1}})
    db = Path((await first.request("context/status"))["store"]["path"])
    await first.close()
    ruin_context(db, newest_context_id(db))

    second = await open_client()
    status = await second.request("context/status")  # the failed restore does not hold requests back
    assert status["active"] == {"name": "lost", "version": None}
    restore = second.notifications["context/didRestore"]
    assert [r["context"] for r in restore] == ["lost"]
    for method, params in (
        ("context/get", {}),
        ("context/get", {"context": "lost"}),
        ("context/update", {"set": {"x": 1}}),
        ("context/snapshot", {}),
        ("context/diff", {"fromVersion": 1}),
    ):
        error = await second.error(method, params)
        assert_error(error, -32007, "RecoveryError", env=env)
        assert error["data"]["reason"] == "NoValidSnapshot"
    # every other context still works
    assert (await second.request("context/get", {"context": "default"}))["data"] == {"safe": True}
    assert (await second.request("context/switch", {"name": "default"}))["version"] == 2
    code, out, _ = run_cli(env, "verify")
    assert code == 1 and "lost" in out


def _raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None, timeout=10)


async def test_a_head_moved_back_while_the_newer_version_stays_is_recovered_and_said(
    open_client: Callable[..., Any], env: Env
) -> None:
    """The head record moved back one version behind the server's back: the next server neither
    serves the older version as current nor fails every later write with a primary-key error; it
    restores the newest version (written, and its chain holds), says so, and verify reports it."""
    first = await open_client()
    for n in range(2, 6):
        await first.request("context/update", {"set": {"n": n}})
    newest = await first.request("context/get")
    db = Path((await first.request("context/status"))["store"]["path"])
    await first.close()
    conn = _raw(db)
    (context_id,) = conn.execute("SELECT id FROM contexts").fetchone()
    (older_hash,) = conn.execute(
        "SELECT hash FROM versions WHERE context_id = ? AND version = 4", (context_id,)
    ).fetchone()
    conn.execute("UPDATE contexts SET head = 4, head_hash = ? WHERE id = ?", (older_hash, context_id))
    conn.close()
    code, out, _ = run_cli(env, "verify")
    assert code == 1 and "moved back" in out, out

    second = await open_client()
    got = await second.request("context/get")
    assert got["data"] == newest["data"] and got["version"] == 6
    [recovered] = second.notifications["context/didRecover"]
    assert (recovered["fromVersion"], recovered["toVersion"]) == (4, 5)
    assert "moved back" in recovered["reason"]
    assert (await second.request("context/update", {"set": {"after": 1}}))["version"] == 7


async def test_a_head_moved_back_under_a_running_server_is_never_a_primary_key_error(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client()
    for n in range(2, 5):
        await client.request("context/update", {"set": {"n": n}})
    db = Path((await client.request("context/status"))["store"]["path"])
    conn = _raw(db)
    (context_id, head) = conn.execute("SELECT id, head FROM contexts").fetchone()
    (older_hash,) = conn.execute(
        "SELECT hash FROM versions WHERE context_id = ? AND version = ?", (context_id, head - 1)
    ).fetchone()
    conn.execute(
        "UPDATE contexts SET head = ?, head_hash = ? WHERE id = ?", (head - 1, older_hash, context_id)
    )
    conn.close()
    for attempt in range(3):  # every later write works: none collides with the newer row
        result = await client.request("context/update", {"set": {"again": attempt}})
        assert result["version"] > head
    recovered = await client.wait_for("context/didRecover")
    assert "moved back" in recovered["reason"]
    assert (await client.request("context/get"))["data"]["n"] == 4


async def test_a_deleted_context_record_is_said_and_its_rows_set_aside(
    open_client: Callable[..., Any], env: Env
) -> None:
    first = await open_client()
    await first.request("context/create", {"name": "victim", "from": {}})
    await first.request("context/update", {"context": "victim", "set": {"x": 1}})
    db = Path((await first.request("context/status"))["store"]["path"])
    await first.close()
    conn = _raw(db)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DELETE FROM contexts WHERE id = (SELECT max(id) FROM contexts)")
    conn.close()
    code, out, _ = run_cli(env, "verify")
    assert code == 1 and "context record is gone" in out, out

    second = await open_client()
    await second.request("context/status")  # after the notifications of the opening
    [recovered] = second.notifications["context/didRecover"]
    assert recovered["context"] == "victim" and recovered["toVersion"] is None
    assert "record was deleted" in recovered["reason"]
    # the name can be used again: no primary-key error from the rows left behind
    created = await second.request("context/create", {"name": "victim"})
    assert created["version"] == 1
    assert (await second.request("context/update", {"context": "victim", "set": {"y": 2}}))["version"] == 2
    await second.close()
    code, out, _ = run_cli(env, "verify")
    assert code == 1 and "damaged row set aside" in out, out


async def test_a_tampered_snapshot_is_set_aside_and_said_not_silently_left_out(
    open_client: Callable[..., Any], env: Env
) -> None:
    first = await open_client()
    kept = await first.request("context/snapshot", {"label": "kept"})
    altered = await first.request("context/snapshot", {"label": "altered"})
    db = Path((await first.request("context/status"))["store"]["path"])
    await first.close()
    conn = _raw(db)
    conn.execute("UPDATE snapshots SET size = size + 1 WHERE id = ?", (altered["id"],))
    conn.close()

    second = await open_client()
    await second.request("context/status")  # after the notifications of the opening
    [recovered] = second.notifications["context/didRecover"]
    assert altered["id"] in recovered["reason"] and "set aside" in recovered["reason"]
    listed = [s["id"] for s in (await second.request("context/snapshots"))["snapshots"]]
    assert kept["id"] in listed and altered["id"] not in listed
    assert (await second.request("context/info", {"name": "default"}))["snapshots"] == len(listed)
    code, out, _ = run_cli(env, "verify")
    assert (code == 1 and altered["id"] in out) or "damaged row set aside" in out, out
