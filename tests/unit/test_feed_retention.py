"""The change feed keeps what a held-up reader can still use: its newest ``feed_keep`` rows, and older
rows while their version is kept and younger than ``feed_max_age_s``. Rows of folded versions go at
once (they deliver nothing), and a reader held up for less than the age limit misses nothing."""

from __future__ import annotations

import pytest
from tests.conftest import StoreEnv
from tests.unit.retention_tools import open_with, updates
from tests.unit.storetools import count_rows

from groundhog.store import sessions
from groundhog.sync import ChangeFeed


def test_a_reader_held_up_within_the_age_limit_misses_nothing(store_env: StoreEnv) -> None:
    manager = open_with(store_env, feed_keep=100, history_limit=1000)
    manager.create_context("c")
    reader = ChangeFeed(manager.store)  # it reads nothing while 600 versions are written
    updates(manager, 600)
    seen: list[int] = []
    reader.poke()  # same process, same connection: data_version does not move for our own commits
    while events := reader.poll():  # up to 500 rows a read
        seen += [e.version for e in events if e.context == "c"]
        reader.poke()
    assert seen == list(range(2, 602))  # was the newest 110 at most: the rest had been pruned
    manager.close()


def test_rows_of_folded_versions_go_beyond_the_newest(store_env: StoreEnv) -> None:
    manager = open_with(store_env, feed_keep=100, history_limit=10)
    manager.create_context("c")
    updates(manager, 1000)
    kept_versions = count_rows(manager.store, "versions")
    assert count_rows(manager.store, "feed") <= 100 + 10 + kept_versions
    manager.close()


def test_rows_older_than_the_age_limit_go_beyond_the_newest(
    store_env: StoreEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock is the test's: however slow the machine, the rows are young, then old."""
    cutoff = ["2000-01-01T00:00:00.000Z"]  # what `ago(feed_max_age_s)` answers: rows older go
    monkeypatch.setattr(sessions, "ago", lambda seconds: cutoff[0])
    manager = open_with(store_env, feed_keep=100, history_limit=1000, feed_max_age_s=1.0)
    manager.create_context("c")
    updates(manager, 400)
    assert count_rows(manager.store, "feed") > 300  # young and kept: they stay
    cutoff[0] = "9999-01-01T00:00:00.000Z"  # the age limit has passed for every row
    updates(manager, 10)  # a pass comes every 10 commits
    assert count_rows(manager.store, "feed") <= 100 + 10
    manager.close()
