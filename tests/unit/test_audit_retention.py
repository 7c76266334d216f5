"""Audit retention by age: records older than the limit go, a prefix of the log at a time, and the
kept part still verifies from the sealed anchor; a tampered, replaced or missing anchor is reported.

The age is set in seconds here (the store's unit; users give days) so that real time can pass."""

from __future__ import annotations

import pytest
from tests.conftest import StoreEnv
from tests.unit.retention_tools import AuditClock, open_with, updates
from tests.unit.storetools import flip_byte, raw_db

from groundhog import ContextManager
from groundhog.errors import InvalidParams
from groundhog.store.audit import AUDIT_ANCHOR

AGE_S = 1.5


def _anchor_blob(manager: ContextManager) -> bytes:
    with raw_db(manager.store) as conn:
        return bytes(conn.execute("SELECT blob FROM settings WHERE key = ?", (AUDIT_ANCHOR,)).fetchone()[0])


def _set_anchor_blob(manager: ContextManager, blob: bytes) -> None:
    with raw_db(manager.store) as conn:
        conn.execute("UPDATE settings SET blob = ? WHERE key = ?", (blob, AUDIT_ANCHOR))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> AuditClock:
    return AuditClock(monkeypatch)


def _aged_store(env: StoreEnv, clock: AuditClock) -> ContextManager:
    """Records written, then older than the age limit, then a few young ones: the old ones cut."""
    manager = open_with(env, audit_max_age_s=AGE_S)
    manager.create_context("c")
    updates(manager, 10)  # audit records 1..11 (the create, then 10 updates)
    clock.advance(AGE_S * 1.1 + 0.3)
    updates(manager, 3)
    return manager


def test_records_older_than_the_age_limit_go_and_the_kept_chain_verifies(
    store_env: StoreEnv, clock: AuditClock
) -> None:
    manager = _aged_store(store_env, clock)
    records = manager.audit_records(100)
    assert [r["details"]["version"] for r in records] == [14, 13, 12]  # only the young ones
    with manager.store.read() as tx:
        assert tx.audit_anchor()[0] == 11  # the last record removed is the anchor
    report = manager.verify()
    assert report.ok, report.problems
    manager.close()
    reopened = open_with(store_env)  # the default limits (90 days, 100,000) keep what is there
    assert reopened.verify().ok
    reopened.close()


def test_a_count_cut_and_an_age_cut_anchor_the_same_chain(store_env: StoreEnv, clock: AuditClock) -> None:
    manager = open_with(store_env, audit_keep=10, audit_max_age_s=AGE_S)
    manager.create_context("c")
    updates(manager, 30)  # the count rule cuts first
    with manager.store.read() as tx:
        by_count = tx.audit_anchor()[0]
    assert by_count > 0
    clock.advance(AGE_S * 1.1 + 0.3)
    updates(manager, 2)  # then the age rule: everything before these goes
    with manager.store.read() as tx:
        assert tx.audit_anchor()[0] == 31
    assert [r["details"]["version"] for r in manager.audit_records(100)] == [33, 32]
    assert manager.verify().ok
    manager.close()


def test_the_newest_record_is_kept_whatever_the_age_limit(store_env: StoreEnv, clock: AuditClock) -> None:
    manager = open_with(store_env, audit_max_age_s=0.001)
    manager.create_context("c")
    for _ in range(3):
        clock.advance(0.01)
        updates(manager, 1)
    records = manager.audit_records(100)
    assert records and records[0]["details"]["version"] == 4
    assert manager.verify().ok
    manager.close()


def test_a_tampered_anchor_is_reported(store_env: StoreEnv, clock: AuditClock) -> None:
    manager = _aged_store(store_env, clock)
    _set_anchor_blob(manager, flip_byte(_anchor_blob(manager)))
    problems = manager.verify().problems
    assert any("audit" in p["where"] for p in problems), problems
    manager.close()


def test_an_older_copy_of_the_anchor_put_back_is_reported(store_env: StoreEnv, clock: AuditClock) -> None:
    manager = open_with(store_env, audit_max_age_s=AGE_S)
    manager.create_context("c")
    updates(manager, 3)
    clock.advance(AGE_S * 1.1 + 0.3)
    updates(manager, 3)
    older = _anchor_blob(manager)  # authentic, sealed by us: but not the last one written
    clock.advance(AGE_S * 1.1 + 0.3)
    updates(manager, 3)
    assert manager.verify().ok
    _set_anchor_blob(manager, older)
    problems = manager.verify().problems
    assert any(AUDIT_ANCHOR in p["where"] for p in problems), problems  # the binding
    assert any(p["where"].startswith("the audit log") for p in problems), problems
    manager.close()


def test_a_removed_anchor_or_a_removed_kept_record_is_reported(
    store_env: StoreEnv, clock: AuditClock
) -> None:
    manager = _aged_store(store_env, clock)
    with raw_db(manager.store) as conn:
        conn.execute("DELETE FROM audit WHERE seq = (SELECT min(seq) FROM audit)")
    problems = [p["where"] for p in manager.verify().problems]
    assert "audit record 12" in problems, problems  # the anchor says the kept part starts there
    with raw_db(manager.store) as conn:
        conn.execute("DELETE FROM settings WHERE key = ?", (AUDIT_ANCHOR,))
    problems = [p["where"] for p in manager.verify().problems]
    assert any(where.startswith("audit record") for where in problems), problems
    manager.close()


@pytest.mark.parametrize("days", [0, -1, 36_501, True, 1.5, "30"])
def test_an_out_of_range_age_limit_is_refused_naming_the_field(store_env: StoreEnv, days: object) -> None:
    with pytest.raises(InvalidParams) as raised:
        store_env.open(audit_max_age_days=days)
    assert raised.value.details.get("field") == "auditMaxAgeDays"
    assert "auditMaxAgeDays" in raised.value.message
