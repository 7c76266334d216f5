"""The encrypted, hash-chained audit log, and the quarantine where recovery sets damaged rows aside."""

from __future__ import annotations

from typing import Any

import orjson

from groundhog.store.chains import AUDIT_GENESIS, chain_hash
from groundhog.store.rowbase import Rows
from groundhog.timeutil import ago, now


class AuditRows(Rows):
    def quarantine(self, source: str, uid: str, version: int, reason: str, row: dict[str, Any]) -> None:
        packed = orjson.dumps({k: v.hex() if isinstance(v, bytes) else v for k, v in row.items()})
        self.conn.execute(
            "INSERT INTO quarantine(ts, source, context_uid, version, reason, row) VALUES (?, ?, ?, ?, ?, ?)",
            (now(), source, uid, version, reason, packed),
        )

    def audit(self, event: str, session: str, details: dict[str, Any]) -> None:
        """Append one record to the encrypted, hash-chained audit log."""
        last = self._audit_last()
        seq, prev = (1, AUDIT_GENESIS) if last is None else (last[0] + 1, last[1])
        ts = now()
        blob = self.cipher.seal_json(details, "audit", seq)
        digest = chain_hash(self.chain_key, prev, seq, ts, event, session, blob)
        self.conn.execute(
            "INSERT INTO audit(seq, ts, event, session, blob, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, event, session, blob, prev, digest),
        )
        self._audit_appended(seq, digest, ts)
        self._apply_audit_retention(seq)

    # The log's two ends; a shared store reads them with the transaction's opening (store/pgrows.py).
    def _audit_last(self) -> tuple[int, bytes] | None:
        found = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return None if found is None else (int(found[0]), bytes(found[1]))

    def _audit_first(self) -> tuple[int, str] | None:
        found = self.conn.execute("SELECT seq, ts FROM audit ORDER BY seq LIMIT 1").fetchone()
        return None if found is None else (int(found[0]), str(found[1]))

    def _audit_appended(self, seq: int, digest: bytes, ts: str) -> None:
        """``seq`` is the log's newest record now."""

    def _apply_audit_retention(self, newest: int) -> None:
        """Keep the newest ``audit_keep`` records, and none older than ``audit_max_age_s``. Each rule
        cuts a prefix of the log with some slack (a tenth), so most appends only look at its oldest
        record. The kept chain stays verifiable: the link of the last record removed is kept, sealed,
        as the anchor the first kept record must chain to."""
        found = self._audit_first()
        if found is None:
            return
        oldest, oldest_ts = found
        keep = self.settings.audit_keep
        cut = newest - keep if newest - oldest + 1 > keep + max(1, keep // 10) else 0
        max_age = self.settings.audit_max_age_s
        if max_age is not None and str(oldest_ts) < ago(max_age * 1.1):
            # the prefix older than the limit, in log order: a clock that went back never cuts a
            # record that follows a younger one; the newest record is always kept
            first_young = self.conn.execute(
                "SELECT coalesce(min(seq), ?) FROM audit WHERE ts >= ?", (newest, ago(max_age))
            ).fetchone()[0]
            cut = max(cut, min(first_young, newest) - 1)
        if cut >= oldest:
            self._cut_audit(cut)

    def _cut_audit(self, cut: int) -> None:
        """Remove the records up to ``cut``, anchoring the rest to the last one removed."""
        anchor = self.conn.execute("SELECT hash FROM audit WHERE seq = ?", (cut,)).fetchone()
        if anchor is None:
            return
        self.put_setting(AUDIT_ANCHOR, {"seq": cut, "hash": bytes(anchor[0]).hex()})
        self.conn.execute("DELETE FROM audit WHERE seq <= ?", (cut,))

    def audit_anchor(self) -> tuple[int, bytes]:
        """(seq, link) the oldest kept record chains to: (0, genesis) until records were removed."""
        anchor = self.get_setting(AUDIT_ANCHOR)
        if not isinstance(anchor, dict):
            return 0, AUDIT_GENESIS
        return int(anchor["seq"]), bytes.fromhex(str(anchor["hash"]))

    def audit_head(self) -> int:
        """The newest audit record's number (0: none yet)."""
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0])

    def audit_after(self, seq: int, events: tuple[str, ...], limit: int = 500) -> list[dict[str, Any]]:
        """Records after ``seq`` whose event is one of ``events``, decrypted, oldest first."""
        marks = ",".join("?" * len(events))
        return [
            {"seq": number, "timestamp": ts, "event": event, "session": session,
             "details": self.cipher.open_json(blob, "audit", number)}
            for number, ts, event, session, blob in self.conn.execute(
                f"SELECT seq, ts, event, session, blob FROM audit WHERE seq > ? AND event IN ({marks})"
                " ORDER BY seq LIMIT ?",
                (seq, *events, limit),
            )
        ]  # fmt: skip

    def audit_records(self, limit: int) -> list[dict[str, Any]]:
        """The newest audit records, decrypted, newest first."""
        return [
            {
                "seq": seq,
                "timestamp": ts,
                "event": event,
                "session": session,
                "details": self.cipher.open_json(blob, "audit", seq),
            }
            for seq, ts, event, session, blob in self.conn.execute(
                "SELECT seq, ts, event, session, blob FROM audit ORDER BY seq DESC LIMIT ?", (limit,)
            )
        ]


AUDIT_ANCHOR = ".audit_anchor"  # the settings row holding the removed part's last link
