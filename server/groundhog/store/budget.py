"""The workspace's storage budget. Past it, the store makes room in this order: the oldest history
first (each context keeps only what its newest checkpoint rebuilds), then the oldest recovery
points, then the oldest audit records (down to the newest 1,000, the kept chain anchored). A user's
snapshot and a context's head are never touched. A workspace that still does not fit says so
(status, log, audit) and keeps accepting writes: losing an update to a budget would be worse than
going over it.

Measured as the database's live bytes (pages in use; on PostgreSQL the space its relations hold,
which a deletion frees for reuse but does not shrink); freed pages are reused, not returned to the
file system. The pass runs when a checkpoint or a snapshot is written (the moments the store grows
by a state's size), inside that write's transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from groundhog.store.rowbase import Rows

log = logging.getLogger(__name__)
AUDIT_FLOOR = 1_000  # the newest audit records a budget pass never removes
OVER_BUDGET = ".over-budget"  # settings row: {"used", "budget"} while the workspace does not fit


class BudgetRows(Rows):
    def live_bytes(self) -> int:
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def size_for_budget(self) -> int:
        """The size the pass starts from (a shared store reuses a recent measure: store/pgrows.py)."""
        return self.live_bytes()

    def budget_pass(self) -> None:
        budget = self.settings.budget_bytes
        if self.size_for_budget() <= budget:
            self._mark_fits()
            return
        for context_id, anchor, cp_version in self.conn.execute(
            "SELECT id, anchor, cp_version FROM contexts ORDER BY cp_version - anchor DESC"
        ).fetchall():
            if cp_version > anchor:  # fold its history down to what its newest checkpoint rebuilds
                self.conn.execute(
                    "DELETE FROM versions WHERE context_id = ? AND version < ?", (context_id, cp_version)
                )
                self.conn.execute(
                    "DELETE FROM checkpoints WHERE context_id = ? AND version < ?", (context_id, cp_version)
                )
                self.conn.execute("UPDATE contexts SET anchor = ? WHERE id = ?", (cp_version, context_id))
                if self.live_bytes() <= budget:
                    log.info("the workspace went over its storage budget: the oldest history was folded")
                    self._mark_fits()
                    return
        oldest_first = self.conn.execute(
            "SELECT id, context_id FROM snapshots WHERE kind = 'recoveryPoint' ORDER BY ts, rowid"
        ).fetchall()
        for snapshot_id, context_id in oldest_first:
            self.conn.execute("DELETE FROM snapshots WHERE id = ?", (snapshot_id,))
            row = self.context_by_id(context_id)
            if row is not None:
                self.drop_unreferenced_values(row)
            if self.live_bytes() <= budget:
                log.info("the workspace went over its storage budget: old recovery points were removed")
                self._mark_fits()
                return
        if not self._trim_audit(budget):
            self._mark_over(self.live_bytes(), budget)

    def _trim_audit(self, budget: int) -> bool:
        """The audit log counts in the budget too, last: its oldest half goes, then half of what is
        left, down to its newest ``AUDIT_FLOOR`` records, the kept chain anchored as retention
        anchors it (store/audit.py), and the trim itself recorded. True once the workspace fits."""
        count, last = self.conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM audit").fetchone()
        trimmed = 0
        while count > AUDIT_FLOOR:
            keep = max(AUDIT_FLOOR, count // 2)
            self._cut_audit(int(last) - keep)
            trimmed, count = trimmed + count - keep, keep
            if self.live_bytes() <= budget:
                break
        if trimmed:
            log.info("the workspace went over its storage budget: %d old audit records were removed", trimmed)
            self.audit("audit-trimmed", "store", {"records": trimmed, "budget": budget})
        fits = self.live_bytes() <= budget
        if fits:
            self._mark_fits()
        return fits

    def audit_usage(self) -> tuple[int, int]:
        """(the bytes the audit log takes, its records), for ``status``."""
        return self.audit_bytes(), int(self.conn.execute("SELECT count(*) FROM audit").fetchone()[0])

    def audit_bytes(self) -> int:
        try:  # SQLite's page-level view, where the build has it (Debian's does)
            found = self.conn.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = 'audit'")
            return int(found.fetchone()[0])
        except sqlite3.Error:  # the rows' own bytes, a close lower bound
            found = self.conn.execute(
                "SELECT coalesce(sum(length(blob) + length(prev_hash) + length(hash) + length(event)"
                " + length(session) + length(ts) + 16), 0) FROM audit"
            )
            return int(found.fetchone()[0])

    def over_budget(self) -> dict[str, Any] | None:
        """``{"used", "budget"}`` while the workspace does not fit its budget, else None."""
        found = self.get_setting(OVER_BUDGET)
        return found if isinstance(found, dict) else None

    def _mark_over(self, used: int, budget: int) -> None:
        if self.over_budget() is None:  # said once, not on every write
            log.warning("the workspace does not fit its storage budget (%d of %d bytes)", used, budget)
            self.audit("over-budget", "store", {"used": used, "budget": budget})
        self.put_setting(OVER_BUDGET, {"used": used, "budget": budget})

    def _mark_fits(self) -> None:
        self.delete_setting(OVER_BUDGET)
