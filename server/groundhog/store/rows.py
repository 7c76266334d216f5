"""The transaction: every row-level operation available inside one store transaction. Contexts live
here; versions, checkpoints and retention in versions.py; snapshots and their shared values in
snapshots.py (deleting one: snapshot_deletion.py); the audit log and quarantine in audit.py;
settings and the change feed in sessions.py; sessions and their leases in liveness.py; the hash
chains in chains.py. Everything is decrypted on the way out and encrypted on the way in; no
business rules live here (see tracker.py for those)."""

from __future__ import annotations

import hmac
import secrets
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from groundhog.errors import DataDamaged
from groundhog.store import chain_checks
from groundhog.store.audit import AuditRows
from groundhog.store.budget import BudgetRows
from groundhog.store.chains import genesis_hash
from groundhog.store.keyring import KeyRing, Query, TxnCipher
from groundhog.store.liveness import LiveRows
from groundhog.store.records import (
    ContextRow,
    StoredState,
    VersionInfo,
)
from groundhog.store.rowbase import Connection, Cursor
from groundhog.store.sessions import SessionRows
from groundhog.store.snapshot_deletion import SnapshotDeletion
from groundhog.store.values import ValueDigests
from groundhog.store.versions import VersionRows
from groundhog.timeutil import now

# ``modified`` is the head version's time (chained with it), not the context row's own copy,
# which nothing binds: a reader never shows a time that was not written with the head
_CONTEXT_COLUMNS = (
    "id, uid, head, head_hash, anchor, cp_version, cp_bytes, created, coalesce((SELECT ts FROM versions v"
    " WHERE v.context_id = contexts.id AND v.version = contexts.head), modified)"
)


class Txn(VersionRows, SnapshotDeletion, AuditRows, SessionRows, LiveRows, BudgetRows):
    """The operations available inside one store transaction."""

    def __init__(self, conn: Connection, ring: KeyRing, settings: Any, digests: ValueDigests) -> None:
        self.conn = conn
        # a proxy: the transaction must not live on through a cycle (on SQLite an open cursor it
        # holds keeps a read snapshot, and a later BEGIN IMMEDIATE would fail at once)
        self.cipher = TxnCipher(ring, weakref.proxy(self))
        self.mac_key = ring.subkeys["name-mac"]
        self.chain_key = ring.subkeys["chain"]
        self.settings = settings
        self.digests = digests
        self.after_commit: list[Callable[[], None]] = []  # run once the transaction has committed
        self.setting_rows: dict[str, bytes | None] = {}
        self.settings_asked: dict[str, Cursor] = {}

    def end(self) -> None:
        """The transaction is over: let go of the statements asked and not read."""
        self.settings_asked.clear()

    # -- what the key ring needs of the transaction (store/keyring.py) --------------------------

    def key_query(self) -> Query:
        return lambda sql, parameters: self.conn.execute(sql, parameters).fetchall()

    def newest_key_id(self) -> int:
        return int(self.conn.execute("SELECT max(key_id) FROM keys").fetchone()[0])

    def name_mac(self, name: str) -> bytes:
        return hmac.digest(self.mac_key, name.encode(), "sha256")  # one call into OpenSSL

    def find_context(self, name: str) -> ContextRow | None:
        """The context named ``name``: found by the name's MAC, then proven by its sealed name (bound
        to the row), so a MAC copied or swapped onto another row cannot make it serve this name."""
        row = self.conn.execute(
            f"SELECT {_CONTEXT_COLUMNS}, name_blob FROM contexts WHERE name_mac = ?", (self.name_mac(name),)
        ).fetchone()
        if row is None:
            return None
        if self.cipher.open(row[9], "contexts", row[1], "name").decode() != name:
            raise DataDamaged(
                f"Context {name!r}: its name binding was altered (another row answers to it).", context=name
            )
        return ContextRow(row[0], row[1], name, *row[2:9])

    def context_by_id(self, context_id: int) -> ContextRow | None:
        row = self.conn.execute(
            f"SELECT {_CONTEXT_COLUMNS}, name_blob FROM contexts WHERE id = ?", (context_id,)
        ).fetchone()
        if row is None:
            return None
        name = self.cipher.open(row[9], "contexts", row[1], "name").decode()
        return ContextRow(row[0], row[1], name, *row[2:9])

    def list_contexts(self) -> list[ContextRow]:
        """All contexts whose names decrypt and match their MAC; a damaged or swapped name is left
        for ``verify`` to report."""
        rows = []
        for row in self.conn.execute(f"SELECT {_CONTEXT_COLUMNS}, name_blob, name_mac FROM contexts"):
            try:
                name = self.cipher.open(row[9], "contexts", row[1], "name").decode()
            except DataDamaged:
                continue
            if not hmac.compare_digest(self.name_mac(name), row[10]):
                continue
            rows.append(ContextRow(row[0], row[1], name, *row[2:9]))
        return sorted(rows, key=lambda r: r.name)

    def name_binding_holds(self, context_id: int) -> bool:
        """Whether the row's name MAC is the MAC of its sealed name (``verify``)."""
        found = self.conn.execute("SELECT uid, name_blob, name_mac FROM contexts WHERE id = ?", (context_id,))
        uid, blob, mac = found.fetchone()
        name = self.cipher.open(blob, "contexts", uid, "name").decode()
        return hmac.compare_digest(self.name_mac(name), mac)

    def insert_context(
        self, name: str, state: StoredState, kind: str, session: str
    ) -> tuple[ContextRow, VersionInfo]:
        """A new context at version 1, stored as a checkpoint."""
        uid = uuid.uuid4().hex
        ts = now()
        name_blob = self.cipher.seal(name.encode(), "contexts", uid, "name")
        cursor = self.conn.execute(
            "INSERT INTO contexts(uid, name_mac, name_blob, head, head_hash, anchor, cp_version,"
            " cp_bytes, created, modified) VALUES (?, ?, ?, 0, ?, 1, 1, 0, ?, ?) RETURNING id",
            (uid, self.name_mac(name), name_blob, genesis_hash(uid), ts, ts),
        )
        context_id = int(cursor.fetchone()[0])
        row = ContextRow(context_id, uid, name, 0, genesis_hash(uid), 1, 1, 0, ts, ts)
        changed = sorted(state.values)
        return self.append_version(row, state, kind, session, changed, delta=None)

    def delete_context(self, row: ContextRow, session: str = "library") -> None:
        """Delete the context (its versions, snapshots and editor record go with it) and tell the
        feed. Its feed rows stay, under the negative of its id: a reader that had not read them
        yet still learns that it was created and deleted (two list changes, however close), and
        none of them can be taken for a later context given the same id (SQLite reuses the
        highest); they age out of the feed like any row whose version is gone."""
        self.conn.execute("DELETE FROM contexts WHERE id = ?", (row.id,))
        self.feed_deleted(row.id, row.head, session)

    def feed_deleted(self, context_id: int, head: int, session: str) -> None:
        """The feed's side of a deletion (``delete_context``; also rows set aside whose context
        record was deleted behind the store's back, store/repair.py)."""
        self.conn.execute("UPDATE feed SET context_id = -context_id WHERE context_id = ?", (context_id,))
        self._append_feed(-context_id, head, "delete", session)

    # -- integrity (store/chain_checks.py) ---------------------------------------------------------

    def database_check(self) -> str | None:
        """The database's own check of its pages: None when sound, else what it found."""
        result = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        return None if result == "ok" else str(result)

    def check_head(self, row: ContextRow) -> None:
        chain_checks.check_head(self, row)

    def check_head_chain(self, row: ContextRow) -> None:
        chain_checks.check_head_chain(self, row)


def new_session_id() -> str:
    return "s-" + secrets.token_hex(8)
