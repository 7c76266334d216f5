"""The row layer on PostgreSQL: what SQLite answers with a PRAGMA or a pid, and the few steps of a
commit whose intermediate answers would each cost a round trip there (store/pgwire.py) done so that
they need none: the audit log's ends come with the transaction's opening, a change's feed row and
its pruning are one statement, and so is the fold of history past the limit."""

from __future__ import annotations

import threading
import time
from typing import Any

from groundhog.store import liveness
from groundhog.store import sessions as session_rows
from groundhog.store.keyring import KeyRing
from groundhog.store.pgwire import PgConnection, Statement
from groundhog.store.records import ContextRow
from groundhog.store.rows import Txn
from groundhog.store.values import ValueDigests

# What a write transaction reads with its opening: the audit log's two ends (under the workspace's
# lock, so they stay true for the whole transaction).
NEWEST_KEY = "SELECT max(key_id) FROM keys"  # also read with the opening: store/keyring.py
AUDIT_ENDS = (
    "(SELECT seq, hash, ts FROM audit ORDER BY seq DESC LIMIT 1)"
    " UNION ALL (SELECT seq, hash, ts FROM audit ORDER BY seq LIMIT 1)"
)  # the newest record, then the oldest (the same when there is one; none when the log is empty)
SIZE_FRESH_S = 60.0  # how long a measured size of the workspace is trusted (see Upkeep)


class Upkeep:
    """What a store keeps between its transactions: the workspace's size for the budget pass
    (measuring it sums the relation sizes of every table, a catalog walk costing more than a
    write, so a measure is reused for ``SIZE_FRESH_S`` while what this process wrote since cannot
    have taken it past the budget), and a count of the feed rows it appended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._measured: tuple[float, int] | None = None
        self.written = 0  # bytes of blobs this process wrote since the measure
        self._feed_rows = 0

    def known(self, budget: int) -> int | None:
        with self._lock:
            if self._measured is None or time.monotonic() - self._measured[0] > SIZE_FRESH_S:
                return None
            estimate = self._measured[1] + self.written
        return estimate if estimate <= budget else None

    def feed_tick(self, every: int) -> bool:
        """Counts this store's feed rows: true once every ``every``."""
        with self._lock:
            self._feed_rows += 1
            return self._feed_rows % every == 0

    def wrote(self, size: int) -> None:
        with self._lock:
            self.written += size

    def measured(self, size: int) -> None:
        with self._lock:
            self._measured, self.written = (time.monotonic(), size), 0


class PgTxn(Txn):
    conn: PgConnection
    checks_version_conflict = False  # store/versions.py: reading the row count costs a round trip here

    def __init__(
        self,
        conn: PgConnection,
        ring: KeyRing,
        settings: Any,
        digests: ValueDigests,
        *,
        upkeep: Upkeep,
        audit_ends: Statement | None = None,
        newest_key: Statement | None = None,
    ) -> None:
        super().__init__(conn, ring, settings, digests)
        self._newest_key = newest_key
        self._newest_id: int | None = None
        self._upkeep = upkeep
        self._audit_ends = audit_ends
        self._last: tuple[int, bytes] | None = None
        self._first: tuple[int, str] | None = None
        self._ends_known = False

    # -- size, checks, sessions -----------------------------------------------------------------

    def size_for_budget(self) -> int:
        known = self._upkeep.known(self.settings.budget_bytes)
        return self.live_bytes() if known is None else known

    def live_bytes(self) -> int:
        found = self.conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
            " AND c.relkind = 'r'"
        ).fetchone()
        self._upkeep.measured(int(found[0]))
        return int(found[0])

    def newest_key_id(self) -> int:
        """Read with the opening of a write (under the workspace's lock: it stays true)."""
        if self._newest_key is None:
            return super().newest_key_id()
        if self._newest_id is None:
            self._newest_id = int(self._newest_key.fetchone()[0])
        return self._newest_id

    def audit_bytes(self) -> int:
        return int(self.conn.execute("SELECT pg_total_relation_size('audit')").fetchone()[0])

    def database_check(self) -> str | None:
        return None  # PostgreSQL checks its own pages (data checksums, where the cluster enables them)

    def clock_ms(self) -> str:
        """The database's clock, in the statement: the same for every machine (store/liveness.py)."""
        skew = int(liveness.CLOCK_SKEW_MS)
        return f"((extract(epoch from clock_timestamp()) * 1000)::bigint + {skew})"

    # -- the audit log's ends, read with the transaction's opening ------------------------------

    def _audit_last(self) -> tuple[int, bytes] | None:
        self._load_ends()
        return self._last

    def _audit_first(self) -> tuple[int, str] | None:
        self._load_ends()
        return self._first

    def _load_ends(self) -> None:
        if self._ends_known:
            return
        if self._audit_ends is None:  # not a write transaction of ours: ask
            self._last, self._first = super()._audit_last(), super()._audit_first()
        else:
            ends = self._audit_ends.fetchall()
            if ends:
                self._last = (int(ends[0][0]), bytes(ends[0][1]))
                self._first = (int(ends[-1][0]), str(ends[-1][2]))
        self._ends_known = True

    def _audit_appended(self, seq: int, digest: bytes, ts: str) -> None:
        self._load_ends()
        self._last = (seq, digest)
        if self._first is None:
            self._first = (seq, ts)

    def _cut_audit(self, cut: int) -> None:
        super()._cut_audit(cut)
        self._ends_known, self._audit_ends = False, None  # the first record is another one now

    # -- a change's feed row; the feed pruned every so many rows -------------------------------

    def _append_feed(self, context_id: int, version: int, kind: str, session: str) -> None:
        """As the row layer's, without waiting for the new row's number: the pass comes every
        tenth of ``feed_keep`` rows this store appended (per process, as good a cadence)."""
        self.conn.execute(
            "INSERT INTO feed(context_id, version, kind, session) VALUES (?, ?, ?, ?)",
            (context_id, version, kind, session),
        )
        keep = self.settings.feed_keep
        if self._upkeep.feed_tick(max(1, keep // 10)):
            self.conn.execute(
                "DELETE FROM feed WHERE seq <= (SELECT max(seq) FROM feed) - :keep"
                f" AND {session_rows.FEED_ROW_USELESS}",
                {"keep": keep, "cutoff": session_rows.feed_cutoff(self.settings)},
            )

    # -- history past the limit: folded in one statement ----------------------------------------

    def _apply_retention(self, row: ContextRow) -> ContextRow:
        """As the row layer's, without waiting for the floor: the statement finds it, and does
        nothing when the floor is not above the anchor. The returned row keeps its anchor: the kept
        history it implies (``oldest_version``) is the same either way."""
        oldest = self.oldest_version(row)
        if oldest <= row.anchor or row.cp_version <= row.anchor:  # no checkpoint to fold to
            return row
        self.conn.execute(
            "WITH floor AS (SELECT max(version) AS v FROM checkpoints WHERE context_id = :id"
            " AND version <= :oldest),"
            " gone AS (DELETE FROM versions WHERE context_id = :id AND version < (SELECT v FROM floor)"
            " AND (SELECT v FROM floor) > :anchor),"
            " folded AS (DELETE FROM checkpoints WHERE context_id = :id"
            " AND version < (SELECT v FROM floor) AND (SELECT v FROM floor) > :anchor)"
            " UPDATE contexts SET anchor = (SELECT v FROM floor) WHERE id = :id"
            " AND (SELECT v FROM floor) > :anchor",
            {"id": row.id, "oldest": oldest, "anchor": row.anchor},
        )
        return row
