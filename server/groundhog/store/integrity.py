"""Integrity: hash-chain checks, recovery of a damaged head, ``verify``, and error auditing.

Recovery never deletes: rows it cannot use are copied into the ``quarantine`` table before they leave
the live tables, and ``verify`` keeps reporting them until someone discards them explicitly.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import AbstractContextManager
from typing import Any, Protocol

import orjson

from groundhog.errors import ContextError, DataDamaged, LockError, NoValidSnapshot
from groundhog.reports import RecoveryReport, VerifyReport
from groundhog.store.chains import chain_hash, genesis_hash
from groundhog.store.records import ContextRow, StoredState
from groundhog.store.rows import Txn


class Checks:
    """The store methods of this module, for every backend (a store with ``read``/``write``)."""

    def recover_context(self: _Backend, name: str, session: str) -> RecoveryReport | None:
        return recover_context(self, name, session)

    def verify(self: _Backend, *, discard_damaged: bool = False) -> VerifyReport:
        return verify(self, discard_damaged=discard_damaged)

    def audit_error(self: _Backend, session: str, action: str, name: str, error: ContextError) -> None:
        audit_error(self, session, action, name, error)


class _Backend(Protocol):
    """The store as integrity needs it (SqliteStore, PostgresStore)."""

    def read(self) -> AbstractContextManager[Txn]: ...
    def write(self) -> AbstractContextManager[Txn]: ...


log = logging.getLogger(__name__)
_VERSION_COLUMNS = "version, ts, kind, session, keys_blob, delta_blob, link, prev_hash, hash"


# -- head checks and recovery -------------------------------------------------------------------


def _version_rows(tx: Txn, row: ContextRow, first: int, last: int) -> list[dict[str, Any]]:
    cursor = tx.conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version >= ?"
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
        problem = _link_step(tx, row, previous, current)
        if problem:
            return problem
        previous = current
    return None


def _link_step(
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


def check_head_chain(tx: Txn, row: ContextRow) -> None:
    """Raise DataDamaged unless the chain from the newest checkpoint to the head holds and ends
    at the head the context row records."""
    rows = _version_rows(tx, row, min(row.cp_version, row.head), row.head)
    problem = _link_problem(tx, row, rows)
    if problem is None and (not rows or rows[-1]["version"] != row.head):
        problem = f"version {row.head} is missing"
    if problem is None and rows[-1]["hash"] != row.head_hash:
        problem = f"version {row.head} is not the recorded head"
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


def recover_context(store: _Backend, name: str, session: str) -> RecoveryReport | None:
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


def _recover(tx: Txn, row: ContextRow, session: str, reason: str) -> RecoveryReport:
    target, valid_version, snapshot_id = None, 0, None
    for version in range(row.head - 1, max(tx.oldest_version(row), row.anchor) - 1, -1):
        target = _valid_state(tx, row, version)
        if target is not None:
            valid_version = version
            break
    if target is None:
        for snapshot in tx.list_snapshots(row):
            try:
                found = tx.load_snapshot(row, snapshot.id)
            except DataDamaged:
                continue
            if found is not None:
                target, snapshot_id = found[1], snapshot.id
                break
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
    return RecoveryReport(row.name, row.head, target.version, info.version, reason, snapshot_id)


def _set_aside(tx: Txn, row: ContextRow, *, after: int, reason: str) -> None:
    # The quarantine table's reason column is plaintext: name the context by its random uid there,
    # never by its name (user data is only ever stored encrypted).
    reason = reason.replace(repr(row.name), f"#{row.uid[:8]}")
    for table, columns in (("versions", _VERSION_COLUMNS), ("checkpoints", "version, blob")):
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


def audit_error(store: _Backend, session: str, action: str, name: str, error: ContextError) -> None:
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


# -- verify -------------------------------------------------------------------------------------


def verify(store: _Backend, *, discard_damaged: bool = False) -> VerifyReport:
    """Decrypt every row and check every chain; report what is wrong (read-only unless
    ``discard_damaged``, which deletes the rows recovery set aside)."""
    report = VerifyReport()
    # a read transaction is one consistent snapshot: editors keep writing while everything decrypts
    with store.write() if discard_damaged else store.read() as tx:
        if discard_damaged:
            tx.conn.execute("DELETE FROM quarantine")
        problem = tx.database_check()
        if problem is not None:
            report.add("database", "the database's own integrity check failed", detail=problem)
        for section, check in (
            ("the editor records and settings", _verify_bindings),
            ("the contexts", _verify_contexts),
            ("the audit log", _verify_audit),
            ("the set-aside rows", _verify_quarantine),
        ):
            _survive(report, section, lambda c=check: c(tx, report))
    return report


# What reading a damaged file can raise besides our own errors: a flipped byte can break any
# invariant (text that is not UTF-8, a NULL where a number was, a missing row). verify reports it.
UNREADABLE = (
    sqlite3.Error,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AssertionError,
    OverflowError,
)


def _survive(report: VerifyReport, where: str, check: Any) -> None:
    try:
        check()
    except DataDamaged as error:
        report.add(where, "cannot be read (damaged)", detail=error.message)
    except UNREADABLE as error:
        report.add(where, "cannot be read (the store file is damaged)", detail=type(error).__name__)


def _verify_bindings(tx: Txn, report: VerifyReport) -> None:
    for where in tx.unbound_rows():
        report.add(where, "was replaced by another copy of it (an older or foreign row put back)")


def _verify_quarantine(tx: Txn, report: VerifyReport) -> None:
    for source, uid, version, reason in tx.conn.execute(
        "SELECT source, context_uid, version, reason FROM quarantine"
    ):
        report.add(f"{source} {version} of context {str(uid)[:8]}", "damaged row set aside", reason=reason)


def _verify_contexts(tx: Txn, report: VerifyReport) -> None:
    ids = [r[0] for r in tx.conn.execute("SELECT id, uid FROM contexts")]
    for context_id in ids:
        _survive(report, f"context #{context_id}", lambda i=context_id: _verify_context(tx, i, report))


def _verify_context(tx: Txn, context_id: int, report: VerifyReport) -> None:
    try:
        row = tx.context_by_id(context_id)
    except DataDamaged:
        report.add(f"context #{context_id}", "its name does not decrypt")
        return
    if row is None:
        report.add(f"context #{context_id}", "its row cannot be read")
        return
    where = f"context {row.name!r}"
    if not tx.name_binding_holds(row.id):
        report.add(where, "its name binding was altered (the row answers to another name)")
    _verify_versions(tx, row, where, report)
    for (version,) in tx.conn.execute(
        "SELECT version FROM checkpoints WHERE context_id = ?", (row.id,)
    ).fetchall():  # one checkpoint blob in memory at a time
        _try_open(
            report,
            f"{where} checkpoint {version}",
            "checkpoint",
            lambda v=version, u=row.uid: tx.cipher.open(_checkpoint_blob(tx, row.id, v), "checkpoints", u, v),
        )
    for info_id in [
        r[0] for r in tx.conn.execute("SELECT id FROM snapshots WHERE context_id = ?", (row.id,))
    ]:
        _try_open(
            report,
            f"{where} snapshot {info_id}",
            "snapshot",
            lambda i=info_id, r=row: tx.load_snapshot(r, i),
        )
    _try_open(report, f"{where} editor state", "editor", lambda r=row: tx.load_editor(r))
    try:
        tx.load_state(row, row.head)
    except DataDamaged as error:
        report.add(where, "the head does not rebuild", detail=error.message)


def _verify_versions(tx: Txn, row: ContextRow, where: str, report: VerifyReport) -> None:
    """Stream the context's versions: one row (and its blobs) in memory at a time, whatever the
    store's size."""
    cursor = tx.conn.execute(
        f"SELECT {_VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version >= 0"
        " AND version <= ? ORDER BY version",
        (row.id, row.head),
    )
    names = [d[0] for d in cursor.description]
    first: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    problem: str | None = None
    for values in cursor:
        current = dict(zip(names, values, strict=True))
        version = current["version"]
        report.count("versions")
        if first is None:
            first = {"version": version, "prev_hash": current["prev_hash"]}
        if problem is None:
            problem = _link_step(tx, row, previous, current)
        _try_open(
            report,
            f"{where} version {version}",
            "keys",
            lambda v=version, b=current["keys_blob"]: tx.cipher.open(b, "versions", row.uid, v, "keys"),
        )
        if current["delta_blob"] is not None:
            _try_open(
                report,
                f"{where} version {version}",
                "delta",
                lambda v=version, b=current["delta_blob"]: tx.open_delta(row, v, b),
            )
        previous = {"version": version, "hash": current["hash"]}  # the blobs go
    if first is None or previous is None:
        report.add(where, "it has no versions")
        return
    if first["version"] == 1 and first["prev_hash"] != genesis_hash(row.uid):
        report.add(f"{where} version 1", "its chain does not start at the genesis link")
    if first["version"] != row.anchor:
        report.add(where, f"versions before {first['version']} are missing")
    if problem:
        report.add(where, problem)
    if previous["version"] != row.head or previous["hash"] != row.head_hash:
        report.add(where, f"the recorded head {row.head} is missing or altered")


def _checkpoint_blob(tx: Txn, context_id: int, version: int) -> bytes:
    found = tx.conn.execute(
        "SELECT blob FROM checkpoints WHERE context_id = ? AND version = ?", (context_id, version)
    ).fetchone()
    return bytes(found[0]) if found is not None else b""


def _verify_audit(tx: Txn, report: VerifyReport) -> None:
    anchor_seq, prev = tx.audit_anchor()  # where the kept part of the log starts, if it was cut
    expected_seq: int | None = anchor_seq + 1
    for seq, ts, event, session, blob, prev_hash, digest in tx.conn.execute(
        "SELECT seq, ts, event, session, blob, prev_hash, hash FROM audit ORDER BY seq"
    ):
        report.count("audit")
        if expected_seq is not None and seq != expected_seq:
            report.add(f"audit record {expected_seq}", "missing")
        if prev_hash != prev or chain_hash(tx.chain_key, prev_hash, seq, ts, event, session, blob) != digest:
            report.add(f"audit record {seq}", "its chain link is broken")
        _try_open(report, f"audit record {seq}", "audit", lambda s=seq, b=blob: tx.cipher.open(b, "audit", s))
        prev, expected_seq = digest, seq + 1


def _try_open(report: VerifyReport, where: str, kind: str, opener: Any) -> None:
    report.count(kind)
    try:
        opener()
    except DataDamaged:
        report.add(where, "does not decrypt or is incomplete (altered, moved or missing)")
    except (ValueError, orjson.JSONDecodeError, sqlite3.Error, UnicodeDecodeError):
        report.add(where, "cannot be decoded")
