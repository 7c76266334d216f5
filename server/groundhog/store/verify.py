"""``verify``: decrypt every row and check every chain, table by table, one row in memory at a
time; report what is wrong and where, and go on past anything unreadable."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.reports import SalvageReport, VerifyReport
from groundhog.store.chain_checks import VERSION_COLUMNS, link_step, newest_version
from groundhog.store.chains import chain_hash, genesis_hash
from groundhog.store.integrity import Backend
from groundhog.store.records import ContextRow
from groundhog.store.rows import Txn
from groundhog.store.salvage import SALVAGES


def verify(store: Backend, *, discard_damaged: bool = False) -> VerifyReport:
    """Decrypt every row and check every chain; report what is wrong (read-only unless
    ``discard_damaged``, which deletes the rows recovery set aside and the damaged files a salvage
    set aside)."""
    report = VerifyReport()
    discarded: list[str] = []
    # a read transaction is one consistent snapshot: editors keep writing while everything decrypts
    with store.write() if discard_damaged else store.read() as tx:
        if discard_damaged:
            tx.conn.execute("DELETE FROM quarantine")
            discarded = [record["setAside"] for record in _salvage_records(tx)]
            tx.put_setting(SALVAGES, [])
        problem = tx.database_check()
        if problem is not None:
            report.add("database", "the database's own integrity check failed", detail=problem)
        for section, check in (
            ("the editor records and settings", _verify_bindings),
            ("the contexts", _verify_contexts),
            ("rows of no context", _verify_orphans),
            ("the audit log", _verify_audit),
            ("the set-aside rows", _verify_quarantine),
            ("the salvaged store files", _verify_salvages),
        ):
            _survive(report, section, lambda c=check: c(tx, report))
    for where in store.file_problems():
        report.add("the store file", where)
    if discarded:
        store.discard_set_aside(discarded)
    return report


def _salvage_records(tx: Txn) -> list[dict[str, Any]]:
    records = tx.get_setting(SALVAGES)
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _verify_salvages(tx: Txn, report: VerifyReport) -> None:
    for record in _salvage_records(tx):
        salvage = SalvageReport.from_json(record)
        report.add(
            f"the store file (salvaged {salvage.when})",
            "was damaged and salvaged; the damaged file is kept beside the store",
            summary=salvage.summary(),
            setAside=salvage.set_aside,
            next="`groundhog verify --discard-damaged` deletes it once you no longer need it",
        )


def _verify_orphans(tx: Txn, report: VerifyReport) -> None:
    for table in ("versions", "checkpoints", "snapshots", "snapshot_values", "editors"):
        for context_id, count in tx.conn.execute(
            f"SELECT context_id, count(*) FROM {table} WHERE context_id NOT IN (SELECT id FROM contexts)"
            " GROUP BY context_id"
        ).fetchall():
            report.add(f"{table} of context #{context_id}", f"{count} row(s) whose context record is gone")


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
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version >= 0"
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
            problem = link_step(tx, row, previous, current)
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
    newest = newest_version(tx, row)
    if newest > row.head:
        report.add(where, f"the head record was moved back: version {newest} is newer than it")


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
