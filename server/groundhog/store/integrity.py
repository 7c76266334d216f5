"""Integrity: recovery of a damaged head and error auditing (the chain checks are in
store/chain_checks.py, ``verify`` in store/verify.py, the repairs of other rows in store/repair.py,
the store methods over all of them in store/checks.py).

Recovery never deletes: rows it cannot use are copied into the ``quarantine`` table before they leave
the live tables, and ``verify`` keeps reporting them until someone discards them explicitly. The head
a context's row records is checked against its chain both ways: a head whose chain is broken is
recovered to the newest valid version, and so is a head moved back while newer versions stay (the
newest of them is restored: it was written and its chain holds), so a moved head can neither make the
server serve an older version as current nor make every later write collide with a newer row.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from groundhog.errors import ContextError, DataDamaged, LockError, NoValidSnapshot
from groundhog.reports import RecoveryReport
from groundhog.store.chain_checks import (
    VERSION_COLUMNS,
    check_head,
    link_problem,
    newest_version,
    version_rows,
)
from groundhog.store.chains import genesis_hash
from groundhog.store.records import ContextRow, StoredState

if TYPE_CHECKING:
    from groundhog.store.rows import Txn


class Backend(Protocol):
    """The store as integrity needs it (SqliteStore, PostgresStore)."""

    def read(self) -> AbstractContextManager[Txn]: ...
    def write(self) -> AbstractContextManager[Txn]: ...
    def file_problems(self) -> list[str]: ...
    def discard_set_aside(self, names: list[str]) -> None: ...


log = logging.getLogger(__name__)


def _valid_state(tx: Txn, row: ContextRow, version: int) -> StoredState | None:
    try:
        rows = version_rows(tx, row, version, version)
        cp = tx.conn.execute(
            "SELECT max(version) FROM checkpoints WHERE context_id = ? AND version <= ?",
            (row.id, version),
        ).fetchone()[0]
        if not rows or cp is None or link_problem(tx, row, version_rows(tx, row, cp, version)):
            return None
        return tx.load_state(row, version)
    except DataDamaged:
        return None


def recover_context(store: Backend, name: str, session: str) -> RecoveryReport | None:
    """If the head of ``name`` is damaged, set the damaged rows aside and append a ``recover``
    version equal to the newest valid version (or snapshot). None when the head is healthy."""
    with store.write() as tx:
        row = tx.find_context(name)
        if row is None:
            return None
        try:
            check_head(tx, row)
            return None
        except DataDamaged as damage:
            reason = str(damage.details.get("problem") or damage.message)  # no name: clients add it
        report = _recover(tx, row, session, reason)
        tx.audit(
            "recover",
            session,
            {
                "context": name,
                "fromVersion": report.from_version,
                "toVersion": report.to_version,
                "reason": reason,
            },
        )
    log.warning("recovered a damaged context head (version %d -> %d)", report.from_version, report.to_version)
    return report


def _recover(tx: Txn, recorded: ContextRow, session: str, reason: str) -> RecoveryReport:
    # the newest version that exists counts as the head: versions above a head record moved back
    # are candidates (and a recover version never reuses one of their numbers)
    row = replace(recorded, head=max(recorded.head, newest_version(tx, recorded)))
    target, valid_version, snapshot_id = None, 0, None
    for version in range(row.head, max(tx.oldest_version(row), row.anchor) - 1, -1):
        target = _valid_state(tx, row, version)
        if target is not None:
            valid_version = version
            break
    for snapshot in tx.list_snapshots(row):  # one newer than that version restores more of it
        if target is not None and snapshot.version <= target.version:
            continue
        try:
            found = tx.load_snapshot(row, snapshot.id)
        except DataDamaged:
            continue
        if found is not None and (target is None or found[1].version > target.version):
            target, snapshot_id = found[1], snapshot.id
    if target is None:
        raise NoValidSnapshot(
            f"Context {row.name!r} is damaged and no valid version or snapshot remains.",
            context=row.name,
        )
    _set_aside(tx, row, after=valid_version, reason=reason)
    link_hash = genesis_hash(row.uid)
    if valid_version:
        link_hash = tx.conn.execute(
            "SELECT hash FROM versions WHERE context_id = ? AND version = ?",
            (row.id, valid_version),
        ).fetchone()[0]
    restored = StoredState(0, "", dict(target.values), target.metadata)
    _, info = tx.append_version(
        row, restored, "recover", session, sorted(target.values), delta=None, link=(valid_version, link_hash)
    )
    anchor = tx.conn.execute("SELECT min(version) FROM versions WHERE context_id = ?", (row.id,)).fetchone()[
        0
    ]
    tx.conn.execute("UPDATE contexts SET anchor = ? WHERE id = ?", (anchor, row.id))
    return RecoveryReport(row.name, recorded.head, target.version, info.version, reason, snapshot_id)


def _set_aside(tx: Txn, row: ContextRow, *, after: int, reason: str) -> None:
    # The quarantine table's reason column is plaintext: name the context by its random uid there,
    # never by its name (user data is only ever stored encrypted).
    reason = reason.replace(repr(row.name), f"#{row.uid[:8]}")
    for table, columns in (("versions", VERSION_COLUMNS), ("checkpoints", "version, blob")):
        cursor = tx.conn.execute(
            f"SELECT {columns} FROM {table} WHERE context_id = ? AND version > ?", (row.id, after)
        )
        names = [d[0] for d in cursor.description]
        present = set()
        for values in cursor.fetchall():
            record = dict(zip(names, values, strict=True))
            present.add(record["version"])
            tx.quarantine(table, row.uid, record["version"], reason, record)
        tx.conn.execute(f"DELETE FROM {table} WHERE context_id = ? AND version > ?", (row.id, after))
        if table == "versions":  # rows already gone are recorded too, so verify keeps reporting them
            for version in sorted(set(range(after + 1, row.head + 1)) - present):
                tx.quarantine(table, row.uid, version, f"{reason} (row missing)", {"version": version})


def audit_error(store: Backend, session: str, action: str, name: str, error: ContextError) -> None:
    """Record a failed request in the audit log; a store too broken to write is only logged, and
    a lock that could not be had is not retried for the audit (that would wait twice as long)."""
    if isinstance(error, LockError):
        log.warning("a %s was not audited: the store is locked", action)
        return
    try:
        with store.write() as tx:
            tx.audit(
                "error",
                session,
                {"action": action, "context": name, "kind": error.kind, "message": error.message},
            )
    except ContextError:
        log.warning("could not audit a %s error", error.kind)
