"""A damaged store never takes the editor's server down: for seeded damage of every kind (bytes
flipped anywhere, a page zeroed, the file cut, a torn last page, a damaged WAL), a real `groundhog
serve` starts, answers every request (never -32603), serves only data that was written, takes new
versions without reusing a number, says what it recovered (`context/didRecover`, and a warning to the
person when the file was salvaged), and `groundhog verify` reports the damage until it is discarded.

The store is built once for the module and copied for each seed (tests/damage_tools.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from tests.damage_tools import CONTEXTS, DAMAGE, DELETED, Built, canonical, cases
from tests.e2e.harness import Env, run_cli, start_client

pytestmark = pytest.mark.one_profile  # damage in the store: the client profile changes nothing
SEEDS = 2


async def _answer(client: Any, method: str, params: dict[str, Any]) -> Any:
    """The result, or the error's data: every request is answered, never with an internal error."""
    try:
        return await client.request(method, params)
    except JsonRpcException as error:
        assert error.code != -32603 and "Traceback" not in str(error.data), (method, error)
        return {"error": error.code, "kind": (error.data or {}).get("kind"), "message": str(error)}


@pytest.mark.parametrize(("kind", "seed"), cases(SEEDS), ids=[f"{k}-{s}" for k, s in cases(SEEDS)])
async def test_a_damaged_store_still_serves_only_what_was_written(
    damage_base: Built, tmp_path: Path, kind: str, seed: int
) -> None:
    variant, damage = DAMAGE[kind]
    written = damage_base.written_wal if variant == "wal" else damage_base.written
    store_dir, config_dir = damage_base.copy(variant, tmp_path / "copy")
    what = damage(damage_base.database(store_dir), random.Random(1000 + seed))
    env = Env(tmp_path, store_dir, config_dir, damage_base.workspace)
    client = await start_client(env)
    try:
        names = [c["name"] for c in (await _answer(client, "context/list", {}))["contexts"]]
        assert set(names) <= set(CONTEXTS) and DELETED not in names, (what, names)
        whole = True
        lost = {
            r["context"] for r in client.notifications["context/didRecover"] if r.get("toVersion") is None
        }
        for name in names:
            if name in lost:  # lost entirely, then made anew (the default context): it starts empty
                head = await _answer(client, "context/get", {"context": name})
                assert head["data"] == {} and head["version"] <= 1, (what, name, head)
                whole = False
                continue
            whole &= await _check_context(client, name, written.versions[name], what)
        for name in set(CONTEXTS) - set(names):
            whole = False
            assert any(r["context"] == name for r in client.notifications["context/didRecover"]), what
        status = await _answer(client, "context/status", {})
        assert status["workspace"]["id"], what
        warnings = [m.message for m in client.messages if "salvaged" in m.message]
        for recovered in client.notifications["context/didRecover"]:
            assert recovered["context"] in CONTEXTS and isinstance(recovered["reason"], str), what
    finally:
        await client.close()
    code, out, _ = run_cli(env, "verify", "--json")
    report = json.loads(out)
    if not whole or warnings:
        assert code == 1 and not report["ok"], (what, report)
    if warnings:  # the person is told where the damaged file is, and verify says the same
        aside = warnings[0].split(" kept as ")[1].split(" ")[0]
        assert (damage_base.database(store_dir).parent / aside).exists(), what
        assert any(p.get("setAside") == aside for p in report["problems"]), what


async def _check_context(client: Any, name: str, versions: dict[int, bytes], what: str) -> bool:
    """Every version the server serves of ``name`` is one that was written; it takes a new one.
    True when nothing of it was lost."""
    newest = max(versions)
    head = await _answer(client, "context/get", {"context": name})
    assert canonical(head["data"]) in set(versions.values()), (what, name)
    history = await _answer(client, "context/history", {"context": name, "limit": 1000})
    if "error" in history:  # a damaged row in the listed history: refused (RecoveryError), never wrong
        history = {"entries": [], "oldestVersion": newest + 1}
    for entry in history["entries"]:
        got = await _answer(client, "context/get", {"context": name, "version": entry["version"]})
        if "error" in got:
            continue  # refused as damaged, never wrong
        if entry["version"] <= newest:
            assert canonical(got["data"]) == versions[entry["version"]], (what, name, entry["version"])
        else:
            assert canonical(got["data"]) in set(versions.values()), (what, name, entry["version"])
    await _answer(client, "context/snapshots", {"context": name})
    update = await _answer(client, "context/update", {"context": name, "set": {"after": True}})
    assert "version" in update and update["version"] > newest, (what, name, update)
    return bool(head["version"] == newest and history["oldestVersion"] <= min(versions))


async def test_an_agent_is_told_what_a_salvage_kept_and_lost(damage_base: Built, tmp_path: Path) -> None:
    """The agent's side of the same story: a warning log message with the summary (what was kept,
    what was lost, where the damaged file is); its tools work on the salvaged store."""
    from tests.e2e.mcp_harness import open_agent

    store_dir, config_dir = damage_base.copy("clean", tmp_path / "copy")
    database = damage_base.database(store_dir)
    data = bytearray(database.read_bytes())
    data[4096:8192] = bytes(4096)  # a page SQLite cannot read past: the file is salvaged when opened
    database.write_bytes(bytes(data))
    env = Env(tmp_path, store_dir, config_dir, damage_base.workspace)
    async with open_agent(env) as agent:
        listed = await agent.ok("context_list")
        names = {c["name"] for c in listed["contexts"]}
        assert names <= set(CONTEXTS), names
        await agent.wait_for(
            "notifications/message",
            lambda p: p.get("level") == "warning" and "salvaged" in str(p.get("data")),
        )
        told = next(
            p for m, p in agent.notifications if m == "notifications/message" and "salvaged" in str(p)
        )
        assert "kept as store.db.damaged-" in str(told["data"])


async def test_the_editor_is_told_what_a_salvage_kept_and_lost(damage_base: Built, tmp_path: Path) -> None:
    """A page SQLite cannot read past: the server starts anyway, on the salvaged file, and tells the
    person (a warning: kept, lost, where the damaged file is) and the client (context/didRecover
    for each context restored to an older version or lost, toVersion null when lost)."""
    store_dir, config_dir = damage_base.copy("clean", tmp_path / "copy")
    database = damage_base.database(store_dir)
    data = bytearray(database.read_bytes())
    data[4096:8192] = bytes(4096)
    database.write_bytes(bytes(data))
    env = Env(tmp_path, store_dir, config_dir, damage_base.workspace)
    client = await start_client(env)
    try:
        listed = await _answer(client, "context/list", {})
        names = {c["name"] for c in listed["contexts"]}
        [warning] = [m.message for m in client.messages if "salvaged" in m.message]
        aside = warning.split(" kept as ")[1].split(" ")[0]
        assert (database.parent / aside).read_bytes() == bytes(data)
        told = {r["context"]: r for r in client.notifications["context/didRecover"]}
        for name in set(CONTEXTS) - names:  # lost entirely: said, with toVersion null
            assert told[name]["toVersion"] is None and told[name]["reason"], told
        for name in names:
            await _check_context(client, name, damage_base.written.versions[name], "page 2 zeroed")
    finally:
        await client.close()
