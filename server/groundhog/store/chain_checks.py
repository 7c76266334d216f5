"""The hash-chain checks of one context's rows inside a transaction: the head's chain holds back to its
newest checkpoint and ends at the head its row records. Row reading (store/rows.py) checks a head with
them; recovery (store/integrity.py), the store-wide repairs (store/repair.py) and ``verify``
(store/verify.py) build on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundhog.errors import DataDamaged
from groundhog.store.records import ContextRow

if TYPE_CHECKING:
    from groundhog.store.rows import Txn

VERSION_COLUMNS = "version, ts, kind, session, keys_blob, delta_blob, link, prev_hash, hash"


def version_rows(tx: Txn, row: ContextRow, first: int, last: int) -> list[dict[str, Any]]:
    cursor = tx.conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM versions WHERE context_id = ? AND version >= ?"
        " AND version <= ? ORDER BY version",
        (row.id, first, last),
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def link_problem(tx: Txn, row: ContextRow, rows: list[dict[str, Any]]) -> str | None:
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
    rows = version_rows(tx, row, min(row.cp_version, row.head), row.head)
    problem = link_problem(tx, row, rows)
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
