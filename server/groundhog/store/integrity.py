"""Integrity: hash-chain checks, recovery of a damaged head, and error auditing (``verify`` is in
store/verify.py, the repairs of other rows in store/repair.py).

Recovery never deletes: rows it cannot use are copied into the ``quarantine`` table before they leave
the live tables, and ``verify`` keeps reporting them until someone discards them explicitly. The head
a context's row records is checked against its chain both ways: a head whose chain is broken is
recovered to the newest valid version, and so is a head moved back while newer versions stay (the
newest of them is restored: it was written and its chain holds), so a moved head can neither make the
server serve an older version as current nor make every later write collide with a newer row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, Protocol

from groundhog.errors import ContextError, DataDamaged, LockError, NoValidSnapshot
from groundhog.reports import RecoveryReport, SalvageReport, VerifyReport
from groundhog.store.chains import genesis_hash
from groundhog.store.records import ContextRow, StoredState
from groundhog.store.rows import Txn


class Checks:
    """The store methods of this module, for every backend (a store with ``read``/``write``)."""

    def recover_context(self: Backend, name: str, session: str) -> RecoveryReport | None:
        return recover_context(self, name, session)

    def check_store(self: Backend, session: str, *, repair: bool) -> list[RecoveryReport]:
        from groundhog.store.repair import check_store

        return check_store(self, session, repair=repair)

    def verify(self: Backend, *, discard_damaged: bool = False) -> VerifyReport:
        from groundhog.store.verify import verify

        return verify(self, discard_damaged=discard_damaged)

    def audit_error(self: Backend, session: str, action: str, name: str, error: ContextError) -> None:
        audit_error(self, session, action, name, error)

    def salvaged(self) -> list[SalvageReport]:
        """The store files this store set aside and salvaged; only a file can be (store/sqlite.py)."""
        return []

    def on_salvage(self, listener: Callable[[SalvageReport], None]) -> None:
        """Never called but by a store kept in a file (store/sqlite.py)."""

    def file_problems(self) -> list[str]:
        """Damage ``verify`` cannot see through the rows (a file store's WAL); none here."""
        return []

    def discard_set_aside(self, names: list[str]) -> None:
        """Delete the damaged files a salvage set aside (a file store's; none here)."""


class Backend(Protocol):
    """The store as integrity needs it (SqliteStore, PostgresStore)."""

    def read(self) -> AbstractContextManager[Txn]: ...
    def write(self) -> AbstractContextManager[Txn]: ...
    def file_problems(self) -> list[str]: ...
    def discard_set_aside(self, names: list[str]) -> None: ...


log = logging.getLogger(__name__)
VERSION_COLUMNS = "version, ts, kind, session, keys_blob, delta_blob, link, prev_hash, hash"


# -- head checks and recovery -------------------------------------------------------------------


def _version_rows(tx: Txn, row: ContextRow, first: int, last: int) -> list[dict[str, Any]]:
    cursor = tx.conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version >= ?"
        " AND version <= ? ORDER BY version",
        (row.id, first, last),
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def _link_problem(tx: Txn, row: ContextRow, rows: list[dict[str, Any]]) -> str | None:
    """Check the chain over consecutive ``rows``; the first row's own link is taken on trust.
    Every version links to the one before it, except a ``recover`` version, which links to the
    newest valid version before the damage it replaced (the rows between were set aside)."""
    previous: dict[str, Any] | None = None
    for current in rows:
        problem = link_step(tx, row, previous, current)
        if problem:
            return problem
        previous = current
    return None


def link_step(
    tx: Txn, row: ContextRow, previous: dict[str, Any] | None, current: dict[str, Any]
) -> str | None:
    version, link = current["version"], current["link"]
    if tx.version_hash(row.uid, version, link, current["prev_hash"], current) != current["hash"]:
        return f"version {version} was altered"
    if current["kind"] != "recover" and link != version - 1:
        return f"version {version} links to the wrong version"
    if previous is not None:
        if previous["version"] != link:
            return f"version {link} is missing"
        if current["prev_hash"] != previous["hash"]:
            return f"version {version} does not follow version {link}"
    return None


def newest_version(tx: Txn, row: ContextRow) -> int:
    """The newest version row the context has, whatever head its row records."""
    found = tx.conn.execute("SELECT max(version) FROM versions WHERE context_id = ?", (row.id,)).fetchone()
    return int(found[0]) if found and found[0] is not None else 0


def check_head_chain(tx: Txn, row: ContextRow) -> None:
    """Raise DataDamaged unless the chain from the newest checkpoint to the head holds and ends
    at the head the context row records, and no version is newer than that head."""
    rows = _version_rows(tx, row, min(row.cp_version, row.head), row.head)
    problem = _link_problem(tx, row, rows)
    if problem is None and (not rows or rows[-1]["version"] != row.head):
        problem = f"version {row.head} is missing"
    if problem is None and rows[-1]["hash"] != row.head_hash:
        problem = f"version {row.head} is not the recorded head"
    newest = newest_version(tx, row)
    if problem is None and newest > row.head:
        problem = f"the head record was moved back from version {newest} to {row.head}"
    if problem is not None:
        raise DataDamaged(f"Context {row.name!r}: {problem}.", context=row.name, problem=problem)


def check_head(tx: Txn, row: ContextRow) -> None:
    """The check made when a store is opened: the head's chain holds, and every blob the head
    rebuilds from authenticates (decrypting without decoding keeps this cheap for 1 MB states)."""
    check_head_chain(tx, row)
    tx.load_state(row, row.head, decode=False)


def _valid_state(tx: Txn, row: ContextRow, version: int) -> StoredState | None:
    try:
        rows = _version_rows(tx, row, version, version)
        cp = tx.conn.execute(
            "SELECT max(version) FROM checkpoints WHERE context_id = ? AND version <= ?",
            (row.id, version),
        ).fetchone()[0]
        if not rows or cp is None or _link_problem(tx, row, _version_rows(tx, row, cp, version)):
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
