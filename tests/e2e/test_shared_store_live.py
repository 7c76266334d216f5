"""A team's shared store, end to end: servers on two "machines" (separate homes and config dirs, two
checkouts of one repository at different paths) on one PostgreSQL database, driven through real LSP
clients and the people CLI; the database crashing under them; and what the database and the logs
hold (never a name, key, value, label or client name in the clear)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from groundhog.workspace import shared_workspace_id
from tests.e2e.harness import Client, Env, assert_error, start_client
from tests.pgcluster import PgCluster

pytestmark = pytest.mark.one_profile


def _machine(root: Path, name: str, url: str, path: str = "src/project") -> Env:
    """One machine: its own home, config dir and checkout of the team's repository (one per test:
    the tests share a database, and one repository is one workspace there), at ``path``."""
    home = root / name
    checkout = home / path
    checkout.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), "remote", "add", "origin", f"git@example.com:team/{root.name}.git"],
        check=True,
    )
    return Env(home, home / "store", home / "config", checkout, url)


def _cli(
    env: Env, *args: str, stdin: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=env.environ(**(extra or {})),
        cwd=env.workspace,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _join(member: Env, newcomer: Env, name: str) -> None:
    """``newcomer`` gives its member key (`groundhog key show-public`); ``member`` adds it."""
    shown = _cli(newcomer, "key", "show-public")
    assert shown.returncode == 0 and shown.stdout.startswith("groundhog-member-1:"), shown.stderr
    added = _cli(member, "members", "add", name, shown.stdout.strip())
    assert added.returncode == 0, added.stderr


async def _session_id(client: Client) -> str:
    return str((await client.request("context/status"))["session"]["id"])


async def test_two_machines_share_a_workspace_once_a_member_adds_the_other(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    alice = _machine(tmp_path, "alice", pg_cluster.url)
    bob = _machine(tmp_path, "bob", pg_cluster.url)
    left = await start_client(alice, client_name="alice-editor")
    try:
        await left.request("context/create", {"name": "plan"})
        await left.request("context/update", {"context": "plan", "set": {"goal": "ship"}})
        refused = _cli(bob, "status")
        assert refused.returncode == 1 and "groundhog key show-public" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        _join(alice, bob, "bob")
        right = await start_client(bob, client_name="bob-editor")
        try:
            got = await right.request("context/get", {"context": "plan"})
            assert got["data"] == {"goal": "ship"}
            left_id = await _session_id(left)
            await left.request("context/update", {"context": "plan", "set": {"step": 1}})
            event = await right.wait_for("context/didChange", lambda e: e["version"] == 3)
            assert (event["session"], event["changedKeys"]) == (left_id, ["step"])
            # a stale write from the other machine is never a silent overwrite
            stale = await right.error(
                "context/update", {"context": "plan", "set": {"step": 9}, "baseVersion": 2}
            )
            assert_error(stale, -32001, "VersionConflict")
            assert stale["data"]["conflictingKeys"] == ["step"]
            sessions = _cli(bob, "sessions", "--json")
            assert {"alice-editor", "bob-editor"} <= {s["client"] for s in _json(sessions)["sessions"]}
        finally:
            await right.close()
    finally:
        await left.close()


async def test_three_members_in_three_homes_add_and_remove_one_another(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """Alice's server makes the workspace (she is its first member) and adds Bob and Carol by the
    keys they show; Carol works from another checkout path. Alice removes Carol: Carol's running
    server may write nothing more, and her next command is refused; Bob goes on; all audited."""
    alice = _machine(tmp_path, "alice", pg_cluster.url)
    bob = _machine(tmp_path, "bob", pg_cluster.url)
    carol = _machine(tmp_path, "carol", pg_cluster.url, path="work/checkouts/team-project")
    named = {"GROUNDHOG_MEMBER_NAME": "alice"}
    first = await start_client(alice, client_name="alice-editor", extra_env=named)
    clients = [first]
    try:
        await first.request("context/create", {"name": "plan"})
        _join(alice, bob, "bob")
        _join(alice, carol, "carol")
        listed = _json(_cli(carol, "members", "--json"))["members"]
        assert [(m["name"], m["addedBy"], m["you"]) for m in listed] == [
            ("alice", None, False),
            ("bob", "alice", False),
            ("carol", "alice", True),
        ]
        second = await start_client(bob, client_name="bob-editor")
        third = await start_client(carol, client_name="carol-editor")
        clients += [second, third]
        await third.request("context/update", {"context": "plan", "set": {"carol": 1}})
        await first.wait_for("context/didChange", lambda e: e["version"] == 2)
        removed = _cli(alice, "members", "remove", "carol")
        assert removed.returncode == 0 and "re-encrypted" in removed.stderr, removed.stderr
        denied = await third.error("context/update", {"context": "plan", "set": {"carol": 2}})
        assert_error(denied, -32006, "AccessDenied", env=carol)
        assert "no longer a member" in denied["message"]
        await second.request("context/update", {"context": "plan", "set": {"bob": 1}})
        got = await first.request("context/get", {"context": "plan"})
        assert (got["version"], got["data"]) == (3, {"carol": 1, "bob": 1})
        refused = _cli(carol, "status")
        assert refused.returncode == 1 and "not a member" in refused.stderr
        events = [
            (r["event"], r["details"].get("member"), r["details"].get("by"))
            for r in _json(_cli(bob, "audit", "--json"))["records"]
        ]
        assert ("member-removed", "carol", "alice") in events and ("member-added", "carol", "alice") in events
    finally:
        for client in reversed(clients):
            await client.close()


async def test_bad_member_input_is_one_line_and_changes_nothing(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    alice = _machine(tmp_path, "alice", pg_cluster.url)
    bob = _machine(tmp_path, "bob", pg_cluster.url)
    named = {"GROUNDHOG_MEMBER_NAME": "alice"}
    assert _cli(alice, "members", "start", extra=named).returncode == 1  # no workspace yet: refused
    client = await start_client(alice, extra_env=named)
    try:
        _join(alice, bob, "bob")
        key = _cli(bob, "key", "show-public").stdout.strip()
        for args, words in (
            (("members", "add", "carol", key[:-10]), "not 32"),
            (("members", "add", "carol", "ssh-ed25519 AAAA"), "not a Groundhog member key"),
            (("members", "add", "Bob", key), "already"),
            (("members", "remove", "nobody"), "No member is named"),
        ):
            done = _cli(alice, *args)
            assert done.returncode == 1 and words in done.stderr, (args, done.stderr)
            assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert _cli(bob, "members", "remove", "alice").returncode == 0
        last = _cli(bob, "members", "remove", "bob")
        assert last.returncode == 1 and "last member" in last.stderr
        assert [m["name"] for m in _json(_cli(bob, "members", "--json"))["members"]] == ["bob"]
    finally:
        await client.close()


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    import json

    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_the_database_and_the_logs_never_hold_what_a_user_wrote(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    canary = "Canary7q" + "Xz"  # spelled in two parts so this file itself is no match
    env = _machine(tmp_path, "alice", pg_cluster.url)
    log_file = tmp_path / "server.log"
    client = await start_client(
        env,
        client_name=f"{canary}-client",
        extra_args=("--log-file", str(log_file), "--log-level", "debug"),
    )
    try:
        name = f"{canary}-context"
        await client.request("context/create", {"name": name})
        await client.request("context/update", {"context": name, "set": {f"{canary}-key": f"{canary}-value"}})
        await client.request("context/update", {"context": name, "set": {"k": f"{canary}-later"}})
        await client.request("context/snapshot", {"context": name, "label": f"{canary}-label"})
        await client.request("context/switch", {"name": name})
        bad = await client.error("context/update", {"context": name, "set": {"k": 1}, "baseVersion": 2})
        assert_error(bad, -32001)
        _join(env, _machine(tmp_path, "bob", pg_cluster.url), f"{canary}-member")
    finally:
        await client.close()
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # what the WAL holds reaches the table files too
    found = [str(path) for path in [*pg_cluster.files(), log_file] if canary.encode() in path.read_bytes()]
    assert found == []


async def test_a_database_crash_mid_stream_loses_no_acknowledged_update_and_no_notification(
    tmp_path: Path,
) -> None:
    cluster = PgCluster()  # its own cluster: this test crashes it
    cluster.create()
    try:
        writer_env = _machine(tmp_path, "writer", cluster.url)
        watcher_env = _machine(tmp_path, "watcher", cluster.url)
        writer = await start_client(writer_env)
        await writer.request("context/create", {"name": "log"})
        _join(writer_env, watcher_env, "watcher")
        watcher = await start_client(watcher_env)
        acknowledged: list[int] = []
        outage_errors: list[dict[str, Any]] = []
        for n in range(1, 41):
            if n == 15:
                cluster.stop("immediate")
            if n == 25:
                cluster.start()
            update = {"context": "log", "set": {"n": n}}
            if 15 <= n < 25:  # the database is down: each request answers at once, clearly
                outage_errors.append(await writer.error("context/update", update))
            else:
                acknowledged.append((await writer.request("context/update", update))["version"])
        for error in outage_errors:
            assert_error(error, -32005, "PersistenceError", env=writer_env)
            assert "cannot be reached" in error["message"]
        assert acknowledged[-1] == 1 + len(acknowledged)  # versions are contiguous: none lost
        await watcher.wait_for("context/didChange", lambda e: e["version"] == acknowledged[-1], timeout=30)
        # a marker after the stream: the feed is delivered in commit order, so once the marker's
        # event is here every event of the stream is too, and anything doubled would be before it
        await writer.request("context/create", {"name": "marker"})
        await watcher.wait_for("context/didChange", lambda e: e["context"] == "marker", timeout=30)
        heard = [e["version"] for e in watcher.notifications["context/didChange"] if e["context"] == "log"]
        assert heard == [v for v in range(2, acknowledged[-1] + 1)]  # each once, in order, none missed
        got = await watcher.request("context/get", {"context": "log"})
        assert got["version"] == acknowledged[-1] and got["data"] == {"n": 40}
        assert len(outage_errors) == 10
        await watcher.close()
        await writer.close()
    finally:
        cluster.destroy()


async def test_a_killed_server_s_session_is_gone_for_the_other_machines_once_its_lease_runs_out(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """Two machines (their own machine ids: a session of the other is judged by its lease, as one
    across a network is) with a short lease; one server is killed: the other's editors and the
    people CLI stop counting its session once its lease ran out, and the live server's next
    renewal removes its row. No wall-clock bound: the waits are hang guards."""
    short = {"GROUNDHOG_SESSION_LEASE_S": "3"}
    alice = _machine(tmp_path, "alice", pg_cluster.url)
    bob = _machine(tmp_path, "bob", pg_cluster.url)
    on_alice, on_bob = {**short, "GROUNDHOG_MACHINE_ID": "alice"}, {**short, "GROUNDHOG_MACHINE_ID": "bob"}
    left = await start_client(alice, client_name="alice-editor", extra_env=on_alice)
    await left.request("context/create", {"name": "plan"})
    _join(alice, bob, "bob")
    right = await start_client(bob, client_name="bob-editor", extra_env=on_bob)
    try:
        for client in (left, right):
            await client.request("context/switch", {"name": "plan"})
        assert await _sessions_on(right, "plan") == 2
        listed = _json(_cli(bob, "sessions", "--json", extra=on_bob))["sessions"]
        assert sorted(s["client"] for s in listed) == ["alice-editor", "bob-editor"]
        server = left.lsp._server
        assert server is not None
        server.kill()  # the machine's server dies without ending its session
        await server.wait()
        await _until(lambda: _sessions_on(right, "plan"), 1)
        listed = _json(_cli(bob, "sessions", "--json", extra=on_bob))["sessions"]
        assert [s["client"] for s in listed] == ["bob-editor"]
        await _until(lambda: _session_rows(pg_cluster, bob), 1)  # bob's server's renewal removed the row
    finally:
        await right.close()
        with contextlib.suppress(Exception):
            await left.lsp.stop()


async def _sessions_on(client: Client, context: str) -> int:
    listed = await client.request("context/list")
    return int(next(c["sessions"] for c in listed["contexts"] if c["name"] == context))


async def _session_rows(cluster: PgCluster, env: Env) -> int:
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        schema = f"gh_{shared_workspace_id(env.workspace)}"
        return int(conn.execute(f'SELECT count(*) FROM "{schema}".sessions').fetchone()[0])


async def _until(read: Any, expected: int) -> None:
    for _ in range(600):  # a hang guard (60 s): it returns as soon as the value is there
        if await read() == expected:
            return
        await asyncio.sleep(0.1)
    assert await read() == expected


async def test_bad_shared_store_options_are_named_and_the_embedded_store_serves(tmp_path: Path) -> None:
    """An editor's storeUrl that is not a PostgreSQL URL, or a workspaceId outside its alphabet: one
    warning naming each option, and the session runs on the default (the embedded store)."""
    env = Env.make(tmp_path)
    client = await start_client(env, options={"storeUrl": "/srv/groundhog", "workspaceId": "../../etc"})
    try:
        (message,) = client.messages
        assert "option 'storeUrl' must be a postgresql:// URL" in message.message
        assert "option 'workspaceId' must be 1 to 128 letters" in message.message
        status = await client.request("context/status")
        assert status["store"]["path"].endswith("store.db")  # the embedded store, as by default
        assert (await client.request("context/update", {"set": {"a": 1}}))["version"] == 2
    finally:
        await client.close()
