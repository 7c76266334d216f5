"""Repairs of the rows a reader relies on besides a context's head (the head: store/integrity.py).

- Rows whose context record is gone (orphans: a deleted ``contexts`` row leaves its versions and
  snapshots behind): they can no longer be authenticated (the context's id for their associated data
  was in that row), and a new context that reused the row's number would collide with them.
- Snapshots whose sealed description no longer matches their row: a listing would have to leave
  them out silently.
- For a salvaged file (store/salvage.py): a context with nothing valid left, history older than a
  lost version (it no longer chains to the head), and snapshots that no longer rebuild.

Each is set aside into ``quarantine`` (never deleted: ``verify`` reports it until it is discarded)
and said in a RecoveryReport, so the faces can tell their clients what is no longer there.
"""

from __future__ import annotations

import logging
from typing import Any

from groundhog.errors import DataDamaged, NoValidSnapshot, RecoveryError
from groundhog.reports import RecoveryReport
from groundhog.store.chain_checks import VERSION_COLUMNS, check_head, newest_version
from groundhog.store.integrity import Backend, recover_context
from groundhog.store.records import ContextRow
from groundhog.store.rows import Txn

log = logging.getLogger(__name__)
_OWNED = ("versions", "checkpoints", "snapshots", "snapshot_values", "editors")


def check_store(store: Backend, session: str, *, repair: bool) -> list[RecoveryReport]:
    """Check every context's head and snapshots and look for orphaned rows; with ``repair`` (a
    writable session), recover and set aside what is damaged."""
    damaged: list[str] = []
    altered: dict[str, list[str]] = {}
    try:
        with store.read() as tx:
            for row in tx.list_contexts():
                try:
                    check_head(tx, row)
                except DataDamaged:
                    damaged.append(row.name)
                if found := tx.altered_snapshots(row):
                    altered[row.name] = found
            orphans = _orphans(tx)
    except DataDamaged:  # the context rows themselves: each request (and verify) will say so
        log.warning("the store's context rows are damaged; they cannot be checked on open")
        return []
    if not repair:
        if damaged or altered or orphans:
            log.warning("the store holds damaged rows; a read-only session does not repair them")
        return []
    reports = _set_aside_orphans(store, session, orphans) if orphans else []
    for name in damaged:
        try:
            report = recover_context(store, name, session)
        except RecoveryError:
            # One unrecoverable context must not keep the whole store from opening: its own
            # reads answer RecoveryError (NoValidSnapshot), every other context works.
            log.warning("a damaged context head could not be recovered; its reads will fail")
            continue
        if report is not None:
            reports.append(report)
    for name, ids in altered.items():
        reports.append(set_aside_snapshots(store, session, name, ids, "altered (no longer as written)"))
    return reports


def set_aside_snapshots(store: Backend, session: str, name: str, ids: list[str], why: str) -> RecoveryReport:
    with store.write() as tx:
        row = tx.find_context(name)
        assert row is not None
        for sid in ids:
            _move(tx, "snapshots", "id = ?", (sid,), row.uid, f"snapshot {sid}: {why}")
        reason = f"{'snapshot' if len(ids) == 1 else 'snapshots'} {', '.join(ids)} set aside: {why}"
        tx.audit("recover", session, {"context": name, "snapshots": ids, "reason": reason})
    log.warning("set aside %d damaged snapshot(s) of a context", len(ids))
    return RecoveryReport(name, row.head, row.head, None, reason)


def _move(tx: Txn, table: str, where: str, args: tuple[Any, ...], uid: str, reason: str) -> int:
    """Copy the matching rows of ``table`` into quarantine, then delete them."""
    cursor = tx.conn.execute(f"SELECT * FROM {table} WHERE {where}", args)
    names = [d[0] for d in cursor.description]
    moved = 0
    for values in cursor.fetchall():
        record = dict(zip(names, values, strict=True))
        tx.quarantine(table, uid, int(record.get("version") or 0), reason, record)
        moved += 1
    tx.conn.execute(f"DELETE FROM {table} WHERE {where}", args)
    return moved


# -- orphans -------------------------------------------------------------------------------------


def _orphans(tx: Txn) -> dict[int, int]:
    """Context id -> newest version (0 if none) of rows whose context record is gone."""
    found: dict[int, int] = {}
    for table in _OWNED:
        version = "max(version)" if table in ("versions", "checkpoints", "snapshots") else "0"
        for context_id, newest in tx.conn.execute(
            f"SELECT context_id, {version} FROM {table} WHERE context_id NOT IN (SELECT id FROM contexts)"
            " GROUP BY context_id"
        ).fetchall():
            found[int(context_id)] = max(found.get(int(context_id), 0), int(newest or 0))
    return found


def _set_aside_orphans(store: Backend, session: str, orphans: dict[int, int]) -> list[RecoveryReport]:
    reports = []
    with store.write() as tx:
        names = _vanished_names(tx)
        for context_id, newest in sorted(orphans.items()):
            moved = sum(
                _move(tx, table, "context_id = ?", (context_id,), "?", "its context record was deleted")
                for table in _OWNED
            )
            tx.feed_deleted(context_id, newest, session)  # followers learn that it is gone
            name = names[0] if len(names) == len(orphans) == 1 else f"#{context_id}"
            reason = f"its context record was deleted: {moved} row(s) left behind were set aside"
            tx.audit("recover", session, {"context": name, "reason": reason})
            reports.append(RecoveryReport(name, newest or None, None, None, reason))
    log.warning("set aside the rows of %d context(s) whose record was deleted", len(orphans))
    return reports


def _vanished_names(tx: Txn) -> list[str]:
    """Names the audit log says were created and not deleted, but that no context has: the best
    guess at whose record was deleted behind the store's back."""
    live = {row.name for row in tx.list_contexts()}
    created: dict[str, int] = {}
    for record in reversed(tx.audit_records(1_000_000)):
        context = record["details"].get("context") if isinstance(record["details"], dict) else None
        if isinstance(context, str) and record["event"] in ("create", "delete"):
            created[context] = created.get(context, 0) + (1 if record["event"] == "create" else -1)
    return sorted(name for name, count in created.items() if count > 0 and name not in live)


# -- a salvaged file -----------------------------------------------------------------------------


def repair_salvaged(store: Backend, session: str) -> tuple[list[RecoveryReport], list[str]]:
    """Make a salvaged file whole: each context recovers to its newest valid version, loses the
    history that no longer chains to it and the snapshots that no longer rebuild, or, with nothing
    valid left, goes (its rows are in the damaged file set aside). Returns the recoveries (lost
    contexts with ``to_version`` None) and the contexts kept whole."""
    reports: list[RecoveryReport] = []
    whole: list[str] = []
    with store.read() as tx:
        names = [row.name for row in tx.list_contexts()]
    for name in names:
        try:
            report = recover_context(store, name, session)
        except NoValidSnapshot as error:
            reports.append(_drop(store, session, name, error.message))
            continue
        with store.write() as tx:
            row = tx.find_context(name)
            assert row is not None
            trimmed = _trim(tx, row)
            broken = tx.broken_snapshots(row)
        if broken:
            set_aside_snapshots(store, session, name, broken, "no longer rebuilt (lost to damage)")
        if report is not None:
            reports.append(report)
        elif trimmed or broken:
            head = row.head
            reason = f"{trimmed} older version(s) and {len(broken)} snapshot(s) could not be read"
            reports.append(RecoveryReport(name, head, head, None, reason))
        else:
            whole.append(name)
    return reports, whole


def _drop(store: Backend, session: str, name: str, why: str) -> RecoveryReport:
    with store.write() as tx:
        row = tx.find_context(name)
        assert row is not None
        head = max(row.head, newest_version(tx, row))
        tx.delete_context(row)
        tx.audit("recover", session, {"context": name, "reason": "lost in the salvage"})
    return RecoveryReport(name, head, None, None, f"nothing valid of it could be read ({why})")


def _trim(tx: Txn, row: ContextRow) -> int:
    """Set aside the history below the newest break in the context's chain (it no longer rebuilds
    or chains to the head): the kept history starts at the oldest checkpoint above the break."""
    rows = tx.conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version <= ? ORDER BY version DESC",
        (row.id, row.head),
    ).fetchall()
    links = {version: (link, prev) for version, _ts, _k, _s, _kb, _db, link, prev, _h in rows}
    hashes = {version: digest for version, *_rest, digest in rows}
    low = row.head
    while low in links and links[low][0] in hashes and hashes[links[low][0]] == links[low][1]:
        low = links[low][0]
    checkpoint = tx.conn.execute(
        "SELECT min(version) FROM checkpoints WHERE context_id = ? AND version >= ? AND version <= ?",
        (row.id, low, row.head),
    ).fetchone()[0]
    if checkpoint is None or (checkpoint <= row.anchor and low <= row.anchor):
        return 0
    reason = "older than a version lost to damage"
    moved = _move(tx, "versions", "context_id = ? AND version < ?", (row.id, checkpoint), row.uid, reason)
    _move(tx, "checkpoints", "context_id = ? AND version < ?", (row.id, checkpoint), row.uid, reason)
    tx.conn.execute("UPDATE contexts SET anchor = ? WHERE id = ?", (checkpoint, row.id))
    return moved
