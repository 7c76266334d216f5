"""Versions, checkpoints and retention: each version a key-level delta chained into the context's
hash chain, a checkpoint whenever the deltas since the last one add up to the state's size, and
versions beyond the history limit folded into the oldest kept checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.store.chains import chain_hash
from groundhog.store.codec import Payload
from groundhog.store.records import ContextRow, StoredState, VersionInfo
from groundhog.store.rowbase import Rows
from groundhog.store.splices import apply_deltas, spliced
from groundhog.timeutil import now

CHANGED_KEYS_SPAN = 256  # versions whose changed keys are read instead of comparing whole states


def version_hash(
    chain_key: bytes, uid: str, version: int, link: int, prev: bytes, row: dict[str, Any]
) -> bytes:
    """A version's link in its context's chain: over the link before it and the row's fields."""
    return chain_hash(
        chain_key,
        prev,
        uid,
        version,
        link,
        row["ts"],
        row["kind"],
        row["session"],
        row["keys_blob"],
        row["delta_blob"],
    )


_INSERT_VERSION = (
    "INSERT INTO versions(context_id, version, ts, kind, session, keys_blob, delta_blob, link, prev_hash,"
    " hash) VALUES (:id, :version, :ts, :kind, :session, :keys_blob, :delta_blob, :link, :prev, :hash)"
)


class VersionRows(Rows):
    # A version already there above the recorded head (a head record moved back) is found by the
    # insert's row count: free on SQLite; on PostgreSQL reading it would cost a round trip, so there
    # the insert is plain, a collision fails the commit, and the head checks find a moved head first
    # (tracker._head_in, integrity.check_head_chain).
    checks_version_conflict = True

    def version_hash(self, uid: str, version: int, link: int, prev: bytes, row: dict[str, Any]) -> bytes:
        return version_hash(self.chain_key, uid, version, link, prev, row)

    def append_version(
        self,
        row: ContextRow,
        state: StoredState,
        kind: str,
        session: str,
        changed_keys: list[str],
        delta: Payload | None,
        link: tuple[int, bytes] | None = None,
        previous: StoredState | None = None,
    ) -> tuple[ContextRow, VersionInfo]:
        """Append ``state`` as version head+1. ``delta`` is how it differs from the head
        (``previous``, when given, lets a changed value be stored as a splice of its old bytes:
        store/splices.py); None starts a new chain (create, recover), which always writes a
        checkpoint. A delta as large as half the state is not written at all: the version gets a
        checkpoint instead of both. ``link`` is the (version, hash) this version chains to, by
        default the head."""
        version = row.head + 1
        link_version, prev = link or (row.head, row.head_hash)
        place = ("versions", row.uid, version)
        packed = self._packed_delta(delta, previous, state)
        fields: dict[str, Any] = {
            "ts": now(),
            "kind": kind,
            "session": session,
            "keys_blob": self.cipher.seal(orjson.dumps(changed_keys), *place, "keys"),
            "delta_blob": None if packed is None else self.cipher.seal(packed, *place, "delta"),
        }
        digest = self.version_hash(row.uid, version, link_version, prev, fields)
        self._insert_version(
            row,
            {**fields, "id": row.id, "version": version, "link": link_version, "prev": prev, "hash": digest},
        )
        ts, delta_blob = fields["ts"], fields["delta_blob"]
        cp_version, cp_bytes = row.cp_version, row.cp_bytes + len(delta_blob or b"")
        wrote_checkpoint = self._checkpoint_due(version, cp_version, cp_bytes, delta_blob, state)
        if wrote_checkpoint:
            self._write_checkpoint(row, version, state)
            cp_version, cp_bytes = version, 0
        self._append_feed(row.id, version, kind, session)
        self.conn.execute(
            "UPDATE contexts SET head = ?, head_hash = ?, cp_version = ?, cp_bytes = ?, modified = ?"
            " WHERE id = ?",
            (version, digest, cp_version, cp_bytes, ts, row.id),
        )
        new_row = replace(
            row, head=version, head_hash=digest, cp_version=cp_version, cp_bytes=cp_bytes, modified=ts
        )
        new_row = self._apply_retention(new_row)
        if wrote_checkpoint:  # the store just grew by a state's size: within its budget?
            self.budget_pass()
            new_row = self.context_by_id(row.id) or new_row  # the pass may have folded its history
        state.version, state.last_modified = version, ts
        return new_row, VersionInfo(version, ts, kind, session, changed_keys)

    def _packed_delta(
        self, delta: Payload | None, previous: StoredState | None, state: StoredState
    ) -> bytes | None:
        """The delta's bytes, a changed value spliced from its old bytes when ``previous`` is
        known; None when there is none, or when it is as large as half the state (over the floor):
        the version then gets a checkpoint instead of both."""
        if delta is not None and previous is not None:
            delta = spliced(delta, previous.values)
        packed = None if delta is None else delta.pack()
        if (
            packed is not None
            and len(packed) * 2 >= state.measured_size()
            and len(packed) > self.settings.checkpoint_min_bytes
        ):
            return None
        return packed

    def _insert_version(self, row: ContextRow, params: dict[str, Any]) -> None:
        if not self.checks_version_conflict:
            self.conn.execute(_INSERT_VERSION, params)
            return
        inserted = self.conn.execute(
            _INSERT_VERSION + " ON CONFLICT (context_id, version) DO NOTHING", params
        )
        if inserted.rowcount != 1:
            # the head record was moved back under a newer version: recover, never collide
            version = params["version"]
            raise DataDamaged(
                f"Context {row.name!r}: version {version} already exists above the recorded head.",
                context=row.name,
                problem=f"the head record was moved back below version {version}",
            )

    def _checkpoint_due(
        self, version: int, cp_version: int, cp_bytes: int, delta_blob: bytes | None, state: StoredState
    ) -> bool:
        """The policy of StoreSettings.checkpoint_every (store/common.py says why)."""
        whole = max(state.measured_size(), self.settings.checkpoint_min_bytes)
        return (
            delta_blob is None
            or version - cp_version >= self.settings.checkpoint_every
            or cp_bytes >= whole
            or (version - cp_version) * self.settings.checkpoint_delta_bytes >= whole
        )

    def _write_checkpoint(self, row: ContextRow, version: int, state: StoredState) -> None:
        payload = Payload(values=state.values, metadata=state.metadata)
        blob = self.cipher.seal(payload.pack(), "checkpoints", row.uid, version)
        self.conn.execute(
            "INSERT INTO checkpoints(context_id, version, blob) VALUES (?, ?, ?)"
            " ON CONFLICT (context_id, version) DO UPDATE SET blob = excluded.blob",
            (row.id, version, blob),
        )

    def _apply_retention(self, row: ContextRow) -> ContextRow:
        """Fold history older than the limit: drop every row before the newest checkpoint that is
        not newer than the oldest kept version, so that version still rebuilds from a checkpoint."""
        oldest = self.oldest_version(row)
        if oldest <= row.anchor:
            return row
        floor = self.conn.execute(
            "SELECT max(version) FROM checkpoints WHERE context_id = ? AND version <= ?",
            (row.id, oldest),
        ).fetchone()[0]
        if floor is None or floor <= row.anchor:
            return row
        self.conn.execute("DELETE FROM versions WHERE context_id = ? AND version < ?", (row.id, floor))
        self.conn.execute("DELETE FROM checkpoints WHERE context_id = ? AND version < ?", (row.id, floor))
        self.conn.execute("UPDATE contexts SET anchor = ? WHERE id = ?", (floor, row.id))
        return ContextRow(**{**row.__dict__, "anchor": floor})

    def oldest_version(self, row: ContextRow) -> int:
        """The oldest version still in the kept history (``historyLimit`` versions back)."""
        limit: int = self.settings.history_limit
        return max(row.anchor, row.head - limit + 1, 1)

    def load_state(self, row: ContextRow, version: int, *, decode: bool = True) -> StoredState:
        """Rebuild one version: the nearest checkpoint at or below it, then the deltas after it.
        ``decode=False`` only authenticates every blob the rebuild needs (the open-time check)."""
        found = self.conn.execute(
            "SELECT version, blob FROM checkpoints WHERE context_id = ? AND version <= ?"
            " ORDER BY version DESC LIMIT 1",
            (row.id, version),
        ).fetchone()
        if found is None:
            raise DataDamaged(f"Version {version} of context {row.name!r} has no checkpoint.")
        cp_version, blob = found
        found = None  # the blob, its plaintext and its values are held one after another, not all at once
        plain = self.cipher.open(blob, "checkpoints", row.uid, cp_version)
        del blob
        base = Payload.unpack(plain) if decode else Payload()
        del plain
        state = StoredState(cp_version, "", base.values, base.metadata or {})
        expected = cp_version + 1

        def deltas() -> Iterator[Payload]:  # applied as they are read: one in memory at a time
            nonlocal expected
            for number, delta_blob in self.conn.execute(
                "SELECT version, delta_blob FROM versions WHERE context_id = ? AND version > ?"
                " AND version <= ? ORDER BY version",
                (row.id, cp_version, version),
            ):
                if number != expected or delta_blob is None:
                    raise DataDamaged(f"Version {expected} of context {row.name!r} is missing.")
                plain = self.cipher.open(delta_blob, "versions", row.uid, number, "delta")
                expected += 1
                if decode:
                    yield Payload.unpack(plain)

        apply_deltas(state, deltas())  # splices in place: the checkpoint plus the changes
        ts_row = self.conn.execute(
            "SELECT ts FROM versions WHERE context_id = ? AND version = ?", (row.id, version)
        ).fetchone()
        if expected != version + 1 or ts_row is None:
            raise DataDamaged(f"Version {version} of context {row.name!r} is missing.")
        state.version, state.last_modified = version, ts_row[0]
        return state

    def open_delta(self, row: ContextRow, version: int, blob: bytes) -> Payload:
        return Payload.unpack(self.cipher.open(blob, "versions", row.uid, version, "delta"))

    def deltas_after(self, row: ContextRow, after: int) -> list[tuple[int, str, Payload]]:
        """Deltas of versions after ``after`` up to the head, to bring a cached state forward;
        empty when a chain restarts in between (the caller then reloads)."""
        out = []
        for number, ts, blob in self.conn.execute(
            "SELECT version, ts, delta_blob FROM versions WHERE context_id = ? AND version > ?"
            " ORDER BY version",
            (row.id, after),
        ):
            if blob is None:
                return []
            out.append((number, ts, self.open_delta(row, number, blob)))
        return out

    def deltas_between(self, row: ContextRow, after: int, upto: int) -> dict[int, Payload]:
        """The deltas of the versions after ``after`` up to ``upto`` that have one (a version
        written as a checkpoint has none), by version."""
        return {
            number: self.open_delta(row, number, blob)
            for number, blob in self.conn.execute(
                "SELECT version, delta_blob FROM versions WHERE context_id = ? AND version > ?"
                " AND version <= ? AND delta_blob IS NOT NULL ORDER BY version",
                (row.id, after, upto),
            )
        }

    def version_infos(self, row: ContextRow, limit: int, before: int | None = None) -> list[VersionInfo]:
        """History entries, newest first, never older than the kept history."""
        upper = row.head + 1 if before is None else before
        cursor = self.conn.execute(
            "SELECT version, ts, kind, session, keys_blob FROM versions WHERE context_id = ?"
            " AND version < ? AND version >= ? ORDER BY version DESC LIMIT ?",
            (row.id, upper, self.oldest_version(row), limit),
        )
        return [
            VersionInfo(v, ts, kind, session, self._open_keys(row, v, blob))
            for v, ts, kind, session, blob in cursor
        ]

    def changed_keys_since(self, row: ContextRow, base: int) -> set[str]:
        """Every top-level key changed by the versions after ``base``."""
        changed: set[str] = set()
        for version, blob in self.conn.execute(
            "SELECT version, keys_blob FROM versions WHERE context_id = ? AND version > ?",
            (row.id, base),
        ):
            changed.update(self._open_keys(row, version, blob))
        return changed

    def changed_keys_between(self, row: ContextRow, low: int, high: int) -> set[str] | None:
        """Every top-level key whose value may differ between versions ``low`` and ``high`` (a
        superset: the keys the versions in between changed), so a snapshot or a rollback looks at
        those keys only. None when the versions between do not all chain one to the next (folded
        away, set aside by a recovery, damaged) or are more than ``CHANGED_KEYS_SPAN``: then the
        caller compares whole states."""
        if low == high:
            return set()
        if not 0 < high - low <= CHANGED_KEYS_SPAN:
            return None
        changed: set[str] = set()
        expected = low + 1
        try:
            # Only columns stored before delta_blob: reading `link` (after it) made SQLite walk each
            # large delta's overflow pages, ~0.1 ms a row (a rollback's delta of 500 KB: 120 pages),
            # 30 ms for 256 versions (issue 23). A version links elsewhere than the one before it
            # only as a `recover` (store/integrity.py: any other such link is damage, verify's work).
            for version, kind, blob in self.conn.execute(
                "SELECT version, kind, keys_blob FROM versions WHERE context_id = ? AND version > ?"
                " AND version <= ? ORDER BY version",
                (row.id, low, high),
            ):
                if version != expected or kind == "recover":
                    return None
                changed.update(self._open_keys(row, version, blob))
                expected += 1
        except DataDamaged:
            return None
        return changed if expected == high + 1 else None

    def _open_keys(self, row: ContextRow, version: int, blob: bytes) -> list[str]:
        keys: list[str] = orjson.loads(self.cipher.open(blob, "versions", row.uid, version, "keys"))
        return keys
