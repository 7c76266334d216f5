"""Sessions of other machines are alive while their lease runs, on the database's clock: a session
whose server stopped renewing is shown gone once its lease runs out, and its row is removed by the
next server that renews or registers one; a renewal keeps a session alive, and puts it back if its
row was removed meanwhile. The tests move the database's clock (``CLOCK_SKEW_MS``) instead of
waiting for real leases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import StoreEnv
from tests.unit.storetools import count_rows, raw_db

from groundhog import ContextManager
from groundhog.store import liveness
from groundhog.store.schema import SCHEMA_VERSION

LEASE_S = 90
EDITOR = {"openDocuments": [], "activeUri": "file:///w/a.py", "selections": []}


class Clock:
    """The database's clock, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def advance(self, seconds: float) -> None:
        self._monkeypatch.setattr(liveness, "CLOCK_SKEW_MS", liveness.CLOCK_SKEW_MS + int(seconds * 1000))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def machines(store_env: StoreEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ContextManager]]:
    """Managers of one workspace as two machines see it: ``here`` (this process's machine) and
    ``far`` (another machine tag, so its sessions are judged by their lease, as a remote's are)."""
    here, far = store_env.open(session_lease_s=LEASE_S), store_env.open(session_lease_s=LEASE_S)
    here.create_context("plan")
    tags = {"far": liveness.machine_tag() ^ 0x5A5A5A}
    real = liveness.machine_tag
    monkeypatch.setattr(liveness, "machine_tag", lambda: tags.get("now", real()))

    def as_far(action: object) -> None:
        tags["now"] = tags["far"]
        try:
            action()  # type: ignore[operator]
        finally:
            tags.pop("now")

    far.as_far = as_far  # type: ignore[attr-defined]
    try:
        yield {"here": here, "far": far}
    finally:
        far.close()
        here.close()


def _far_session(far: ContextManager) -> None:
    def register() -> None:
        far.register_session("s-far", {"name": "zed", "version": "1", "kind": "lsp"})
        far.session_activated("s-far", "plan")
        far.save_session_editor("s-far", EDITOR)

    far.as_far(register)  # type: ignore[attr-defined]


def _listed(manager: ContextManager) -> tuple[list[str], int]:
    sessions = [s.id for s in manager.live_sessions()]
    counts = {c.name: c.sessions for c in manager.list_contexts()}
    return sessions, counts["plan"]


def test_a_session_of_another_machine_is_gone_once_its_lease_runs_out_and_its_row_removed(
    machines: dict[str, ContextManager], clock: Clock
) -> None:
    here, far = machines["here"], machines["far"]
    _far_session(far)
    far.leases.stop()  # its server died: nothing renews the lease any more
    assert _listed(here) == (["s-far"], 1)
    clock.advance(LEASE_S - 1)
    assert _listed(here) == (["s-far"], 1)  # still within its lease
    clock.advance(2)
    assert _listed(here) == ([], 0)  # shown as gone at once...
    assert count_rows(here.store, "sessions") == 1  # ...its row not yet removed (a reader writes nothing)
    here.register_session("s-here", {"name": "code", "version": "1", "kind": "lsp"})
    assert count_rows(here.store, "sessions") == 1  # the next writer removed it, with its editor state
    assert count_rows(here.store, "session_editors") == 0
    assert [s.id for s in here.live_sessions()] == ["s-here"]


def test_renewals_keep_a_session_alive_and_put_back_one_removed_while_they_failed(
    machines: dict[str, ContextManager], clock: Clock
) -> None:
    here, far = machines["here"], machines["far"]
    _far_session(far)
    for _ in range(5):  # five thirds of a lease each: alive throughout, renewed each time
        clock.advance(LEASE_S * 0.6)
        far.as_far(lambda: far.leases.renew())  # type: ignore[attr-defined]
        assert _listed(here) == (["s-far"], 1)
    clock.advance(LEASE_S * 2)  # its renewals failed for two leases (the database was down)...
    here.register_session("s-here", {"name": "code", "version": "1", "kind": "lsp"})
    assert "s-far" not in [s.id for s in here.live_sessions()]  # ...and another server removed it
    far.as_far(lambda: far.leases.renew())  # type: ignore[attr-defined]
    assert sorted(s.id for s in here.live_sessions()) == ["s-far", "s-here"]
    assert {s.id: s.context for s in here.live_sessions()}["s-far"] == "plan"  # with its context


def test_the_clocks_of_the_machines_never_matter(
    machines: dict[str, ContextManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases are written and read on the database's clock, in the statement: a machine whose own
    clock is hours off neither expires others' sessions nor keeps its own alive longer."""
    here, far = machines["here"], machines["far"]
    import time

    import groundhog.timeutil as timeutil

    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)  # the year 2096
    monkeypatch.setattr(timeutil, "now", lambda: "2096-10-02T07:06:40.000Z")
    _far_session(far)
    monkeypatch.setattr(time, "time", lambda: 0.0)  # 1970
    assert _listed(here) == (["s-far"], 1)


def test_a_local_session_is_judged_by_its_process_not_its_lease(
    machines: dict[str, ContextManager], clock: Clock
) -> None:
    here = machines["here"]
    here.register_session("s-here", {"name": "code", "version": "1", "kind": "lsp"})
    here.leases.stop()
    clock.advance(LEASE_S * 10)  # its lease ran out long ago, but its process lives (this one)
    assert [s.id for s in here.live_sessions()] == ["s-here"]


def test_a_store_of_format_4_gets_leases(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.register_session("s-old", {"name": "code", "version": "1", "kind": "lsp"})
    store = manager.store
    manager.close()
    with raw_db(store) as conn:  # as format 4 wrote it: no lease column
        conn.execute("ALTER TABLE sessions DROP COLUMN lease_until")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    reopened = store_env.open()
    try:
        with raw_db(reopened.store) as conn:
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION)
        reopened.register_session("s-new", {"name": "code", "version": "1", "kind": "lsp"})
        # the old row is this process's: alive by its pid, as before, lease or not
        assert sorted(s.id for s in reopened.live_sessions()) == ["s-new", "s-old"]
    finally:
        reopened.close()
