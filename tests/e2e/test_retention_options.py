"""The retention settings come from `initializationOptions` and take effect (recovery points per
context, audit records, change-feed rows); a value out of range is refused with one message naming
the field and its range, and the default applies instead."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from lsprotocol import types

pytestmark = pytest.mark.one_profile  # what the store keeps: the client profile changes nothing


def _rows(db: str, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_recovery_points_keep_bounds_the_recovery_points_of_a_context(
    open_client: Callable[..., Any],
) -> None:
    client = await open_client(options={"recoveryPointsKeep": 2})
    await client.request("context/snapshot", {"label": "mine"})  # a user snapshot: never pruned
    for n in range(5):
        await client.request("context/update", {"set": {"n": n}})
        version = (await client.request("context/get"))["version"]
        await client.request("context/rollback", {"toVersion": version - 1})
    snapshots = (await client.request("context/snapshots"))["snapshots"]
    labels = sorted(s["label"] for s in snapshots)
    assert labels == ["mine", "recovery point", "recovery point"], labels
    assert client.messages == []


async def test_audit_and_feed_keep_bound_their_tables(open_client: Callable[..., Any]) -> None:
    client = await open_client(options={"auditKeep": 10, "auditMaxAgeDays": 1, "feedKeep": 100})
    await client.request("context/create", {"name": "scratch"})
    for n in range(300):
        await client.request("context/update", {"context": "scratch", "set": {"n": n}})
    await client.request("context/delete", {"name": "scratch"})  # its feed rows now tell nothing
    for n in range(20):
        await client.request("context/update", {"set": {"n": n}})
    db = (await client.request("context/status"))["store"]["path"]
    assert _rows(db, "audit") <= 10 + 1  # a tenth of slack: cut every tenth record
    # the newest 100 (+ a tenth between passes); older rows only while their version is kept
    # (with the default feedKeep, 1,000, all 320 would still be there)
    assert _rows(db, "feed") <= 100 + 10
    assert client.messages == []


async def test_out_of_range_retention_options_are_refused_naming_the_field(
    open_client: Callable[..., Any],
) -> None:
    bad = {
        "recoveryPointsKeep": 0,
        "auditKeep": 9,
        "auditMaxAgeDays": 0,
        "feedKeep": "many",
        "storeBudgetBytes": 1,
    }
    client = await open_client(options=bad)
    assert len(client.messages) == 1, client.messages
    message = client.messages[0]
    assert message.type == types.MessageType.Warning
    for field, expected in (
        ("recoveryPointsKeep", "from 1 to 100000"),
        ("auditKeep", "from 10 to 100000000"),
        ("auditMaxAgeDays", "from 1 to 36500"),
        ("feedKeep", "from 100 to"),
        ("storeBudgetBytes", "from 1048576 to"),
    ):
        assert f"option '{field}' must be an integer {expected}" in message.message, message.message
    # the defaults apply: a rollback still records its recovery point, the store still works
    await client.request("context/update", {"set": {"a": 1}})
    result = await client.request("context/rollback", {"toVersion": 1})
    assert result["recoveryPoint"]
    assert (await client.request("context/status"))["store"]["budgetBytes"] == 1 << 30
