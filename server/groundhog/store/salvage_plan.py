"""Which rows of a damaged store file can still be read and authenticated (store/salvage.py
makes the new file of them).

Every row read page by page (store/pages.py) is checked as the store checks it when it reads it:
its blobs must decrypt under their place (table, context, version, row id), a version's link in its
hash chain must be the one sealed with the chain key, an audit record likewise. When the schema
itself is lost, the tables are told apart by the shape of their records.

A store with members (store/keyring.py) is read with every data key, opened from this machine's wrap
of the newest one; its members' rows are kept when their sealed names authenticate, and the newest
key is wrapped again for each of them (a member's wrap cannot be checked without its private key).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from groundhog.errors import AccessDenied, ContextError, DataDamaged
from groundhog.store import members, pages
from groundhog.store.chains import chain_hash
from groundhog.store.codec import Cipher, UnknownKey, ring_ciphers
from groundhog.store.common import KEY_ID
from groundhog.store.keyring import NOT_A_MEMBER, keys_back_from, member_data_key
from groundhog.store.prepare import KEY_COPY
from groundhog.store.schema import SCHEMA
from groundhog.store.versions import version_hash


def _tables(schema: str) -> dict[str, tuple[tuple[str, ...], str]]:
    """Each table's columns in order, and the shape of its records: n (an INTEGER PRIMARY KEY, stored
    as NULL: the row id), i integer, t text, b blob, and I, T, B for those that may be NULL. The shape
    tells tables apart when the schema itself is lost (pages.loose_rows). Read from the schema by
    SQLite itself, so a column the schema gains can never be missing from a salvage."""
    scratch = sqlite3.connect(":memory:")
    try:
        for statement in schema.split(";"):
            if statement.strip():
                scratch.execute(statement)
        names = [
            row[0]
            for row in scratch.execute(
                "SELECT name FROM sqlite_master"
                " WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        return {name: _table(scratch.execute(f"PRAGMA table_info({name})").fetchall()) for name in names}
    finally:
        scratch.close()


def _table(info: list[tuple[Any, ...]]) -> tuple[tuple[str, ...], str]:
    keys = sum(1 for column in info if column[5])
    shape = ""
    for _cid, _name, kind, not_null, _default, key in info:
        if key and keys == 1 and kind.upper() == "INTEGER":
            shape += "n"
            continue
        letter = {"INTEGER": "i", "TEXT": "t", "BLOB": "b"}[kind.upper()]
        shape += letter if not_null or key else letter.upper()
    return tuple(column[1] for column in info), shape


TABLES = _tables(SCHEMA)
_TYPES: dict[str, tuple[type, ...]] = {
    "n": (type(None),),
    "i": (int,),
    "t": (str,),
    "b": (bytes,),
    "I": (int, type(None)),
    "T": (str, type(None)),
    "B": (bytes, type(None)),
}
# what identifies a row, for telling a stale copy (a loose page) from the live one
_IDENTITY = {
    "versions": ("context_id", "version"),
    "checkpoints": ("context_id", "version"),
    "snapshot_values": ("context_id", "digest"),
    "meta": ("key",),
    "member_keys": ("fingerprint", "key_id"),
    "settings": ("key",),
    "sessions": ("id",),
    "session_editors": ("session",),
    "snapshots": ("id",),
}
Row = dict[str, Any]
COLUMNS = {table: columns for table, (columns, _shape) in TABLES.items()}  # the store's schema


@dataclass
class Plan:
    """What a salvage keeps: the rows that authenticate, table by table, and what it could not."""

    wrapped: bytes | None = None  # the first data key, wrapped as the damaged file held it
    meta: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # context id -> name, of those kept
    lost: dict[str, int] = field(default_factory=dict)  # rows read that did not authenticate
    problems: list[str] = field(default_factory=list)  # what reading the file found
    schema_lost: bool = False  # the schema page could not be read: tables told apart by shape
    feed_seq: int = 0  # the change feed's last number, which the new file continues
    # context id -> the newest version number an authenticated row shows was written, where that
    # row itself cannot be kept (the WAL past its damage): a recover version goes above it
    written_up_to: dict[int, int] = field(default_factory=dict)

    def count(self, table: str) -> int:
        return len(self.rows.get(table, ()))


MemberKeyOf = Callable[[], members.MemberKey | None]


def plan(
    raw: pages.RawFile, workspace_id: str, unwrap: Callable[[bytes], bytes], member_key: MemberKeyOf
) -> Plan:
    """Read every table of ``raw`` and keep what authenticates with the data keys: the first by
    ``unwrap``, or all of them by this machine's member key (``member_key``) in a store with members."""
    found = Plan(problems=list(raw.problems))
    tables = _read_tables(raw, found)
    found.meta = {row["key"]: row["value"] for row in tables.get("meta", [])}
    found.feed_seq = max([row["seq"] for row in tables.get("feed", [])] + [_sequence(tables)])
    data_keys = _data_keys(tables, found, workspace_id, unwrap, member_key)
    if data_keys is None:
        found.lost = {table: len(rows) for table, rows in tables.items() if table not in ("meta", "keys")}
        return found
    cipher, subkeys = ring_ciphers(data_keys, workspace_id)
    check = _Checker(cipher, subkeys)
    _keep_members(tables, found, cipher, data_keys, workspace_id)
    contexts = check.contexts(tables.get("contexts", []), found)
    uids = {row["id"]: row["uid"] for row in contexts}
    found.rows["contexts"] = contexts
    rules = check.rules(uids)
    for table, keep in rules.items():
        kept = [row for row in tables.get(table, []) if _try(keep, row)]
        found.rows[table] = kept
        found.lost[table] = len(tables.get(table, [])) - len(kept)
    found.lost["contexts"] = len(tables.get("contexts", [])) - len(contexts)
    for image in raw.beyond:
        for context_id, version in _versions_shown(image, raw, check.cipher, uids):
            found.written_up_to[context_id] = max(found.written_up_to.get(context_id, 0), version)
    return found


def _data_keys(
    tables: dict[str, list[Row]],
    found: Plan,
    workspace_id: str,
    unwrap: Callable[[bytes], bytes],
    member_key: MemberKeyOf,
) -> dict[int, bytes] | None:
    """The data keys the damaged file's rows still open (number -> key), None when none do; sets
    ``found.wrapped``. A store with members (its first key's row empty) opens by this machine's
    member key; a machine that has none is refused, as it would be at open."""
    rows = {row["key_id"]: row["wrapped"] for row in tables.get("keys", [])}
    if tables.get("members") or tables.get("member_keys") or rows.get(KEY_ID) == b"":
        member = member_key()
        if member is None:
            raise AccessDenied(NOT_A_MEMBER)
        wraps = [
            (r["key_id"], r["wrapped"])
            for r in tables.get("member_keys", [])
            if r["fingerprint"] == member.fingerprint
        ]
        try:
            newest, key = member_data_key(member, wraps, workspace_id)
            opened = keys_back_from(rows, newest, key, workspace_id)
        except (AccessDenied, DataDamaged):
            return None
        found.wrapped = b""
        found.rows["keys"] = [row for row in tables["keys"] if 1 < row["key_id"] <= newest]
        return opened
    candidates = [rows[KEY_ID]] if KEY_ID in rows else []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(found.meta.get(KEY_COPY, "")))
    for wrapped in candidates:  # the key row, else its copy (store/prepare.py)
        try:
            data_key = unwrap(wrapped)
        except ContextError:
            continue
        found.wrapped = wrapped
        return {KEY_ID: data_key}
    return None


def _keep_members(
    tables: dict[str, list[Row]], found: Plan, cipher: Cipher, data_keys: dict[int, bytes], workspace_id: str
) -> None:
    """The members whose sealed names authenticate (and whose fingerprint is their public key's),
    each given the newest data key wrapped anew."""
    kept = []
    for row in tables.get("members", []):
        with contextlib.suppress(DataDamaged, UnknownKey, orjson.JSONDecodeError):
            cipher.open(row["info_blob"], "members", row["fingerprint"])
            if members.fingerprint(row["public_key"]) == row["fingerprint"]:
                kept.append(row)
    newest = max(data_keys)
    found.rows["members"] = kept
    found.rows["member_keys"] = [
        {
            "fingerprint": row["fingerprint"],
            "key_id": newest,
            "wrapped": members.wrap_for(row["public_key"], data_keys[newest], workspace_id, newest),
        }
        for row in kept
    ]
    found.lost["members"] = len(tables.get("members", [])) - len(kept)


def _versions_shown(
    image: bytes, raw: pages.RawFile, cipher: Cipher, uids: dict[int, str]
) -> Iterator[tuple[int, int]]:
    """(context id, version) of each version row of a page image whose sealed list of changed keys
    authenticates: its associated data binds the context and the version number, so the number
    was written, whatever became of the rest of the row."""
    for _rowid, values in pages.page_rows(raw, image):
        if len(values) < 6 or not all(
            isinstance(v, t) for v, t in zip(values, (int, int, str, str, str, bytes), strict=False)
        ):
            continue
        context_id, version, keys_blob = values[0], values[1], values[5]
        if context_id in uids:
            with contextlib.suppress(DataDamaged, UnknownKey):
                cipher.open(keys_blob, "versions", uids[context_id], version, "keys")
                yield context_id, version


def _fed(context_id: int, uids: dict[int, str]) -> bool:
    """Whether a feed row is about a kept context, or about a deleted one: a deletion keeps the
    context's feed rows under its negated id until they age out (store/rows.py)."""
    return context_id in uids if context_id > 0 else -context_id not in uids


def _try(keep: Callable[[Row], bool], row: Row) -> bool:
    try:
        return keep(row)
    except (DataDamaged, UnknownKey, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        return False


def _sequence(tables: dict[str, list[Row]]) -> int:
    return max([0] + [int(row["seq"]) for row in tables.get("sqlite_sequence", []) if row["name"] == "feed"])


def _read_tables(raw: pages.RawFile, found: Plan) -> dict[str, list[Row]]:
    """Every readable row by table: through the schema's roots; tables whose entry in the schema
    is lost (or the whole schema) from the other leaves, told apart by the shape of their rows."""
    roots = {t: r for t, r in (pages.schema(raw) or {}).items() if t in TABLES or t == "sqlite_sequence"}
    tables: dict[str, list[Row]] = {}
    walked: set[int] = set()
    for table, root in roots.items():
        rows = (_as_row(table, rowid, values) for rowid, values in pages.table_rows(raw, root, walked))
        tables[table] = [row for row in rows if row is not None]
    missing = [table for table in TABLES if table not in roots]
    if missing:
        found.schema_lost = True
        found.problems.append(f"the schema's entries for {len(missing)} table(s) could not be read")
        for rowid, values in pages.loose_rows(raw, walked):
            for table in missing:
                row = _as_row(table, rowid, values)
                if row is not None:
                    tables.setdefault(table, []).append(row)
                    break
    return {table: _dedupe(table, rows) for table, rows in tables.items()}


def _as_row(table: str, rowid: int, values: tuple[Any, ...]) -> Row | None:
    if table == "sqlite_sequence":
        return (
            {"name": values[0], "seq": values[1]} if len(values) == 2 and isinstance(values[1], int) else None
        )
    columns, shape = TABLES[table]
    if len(values) < len(columns) and all(kind in "ITB" for kind in shape[len(values) :]):
        values = (*values, *(None,) * (len(columns) - len(values)))  # written before a column was added
    if len(values) != len(columns) or not all(
        isinstance(value, _TYPES[kind]) for value, kind in zip(values, shape, strict=True)
    ):
        return None
    row = dict(zip(columns, values, strict=True))
    if shape[0] == "n":
        row[columns[0]] = rowid
    return row


def _dedupe(table: str, rows: list[Row]) -> list[Row]:
    """One row per identity (a loose page may hold a stale copy): the newest version of a context
    row, else the first read."""
    identity = _IDENTITY.get(table, (TABLES[table][0][0],) if table in TABLES else ("name",))
    chosen: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = tuple(row[column] for column in identity)
        if key not in chosen or (table == "contexts" and row["head"] > chosen[key]["head"]):
            chosen[key] = row
    return list(chosen.values())


class _Checker:
    """Each table's authentication, as the store's readers apply it."""

    def __init__(self, cipher: Cipher, subkeys: dict[str, bytes]) -> None:
        self.cipher = cipher
        self.mac_key = subkeys["name-mac"]
        self.chain_key = subkeys["chain"]

    def contexts(self, rows: list[Row], found: Plan) -> list[Row]:
        kept: dict[str, Row] = {}  # by name: a stale copy of a deleted and re-created one loses
        for row in rows:
            try:
                name = self.cipher.open(row["name_blob"], "contexts", row["uid"], "name").decode()
            except (DataDamaged, UnknownKey, UnicodeDecodeError):
                continue
            mac = hmac.new(self.mac_key, name.encode(), hashlib.sha256).digest()
            if hmac.compare_digest(mac, row["name_mac"]) and (
                name not in kept or row["id"] > kept[name]["id"]
            ):
                kept[name] = row
        found.names = {row["id"]: name for name, row in kept.items()}
        return list(kept.values())

    def rules(self, uids: dict[int, str]) -> dict[str, Callable[[Row], bool]]:
        c = self.cipher

        def owned(row: Row) -> str:
            return uids[row["context_id"]]  # KeyError: a row of no kept context

        def version(row: Row) -> bool:
            uid = owned(row)
            c.open(row["keys_blob"], "versions", uid, row["version"], "keys")
            if row["delta_blob"] is not None:
                c.open(row["delta_blob"], "versions", uid, row["version"], "delta")
            link = version_hash(self.chain_key, uid, row["version"], row["link"], row["prev_hash"], row)
            return hmac.compare_digest(link, row["hash"])

        def snapshot(row: Row) -> bool:
            uid = owned(row)
            info = c.open_json(row["info_blob"], "snapshots", uid, row["id"])
            bound = info.get("bound")
            c.open(row["blob"], "snapshots", uid, row["id"], "state")
            return bound is None or bound == [row["version"], row["ts"], row["size"], row["kind"]]

        def audit(row: Row) -> bool:
            c.open(row["blob"], "audit", row["seq"])
            fields = (row["seq"], row["ts"], row["event"], row["session"], row["blob"])
            return hmac.compare_digest(chain_hash(self.chain_key, row["prev_hash"], *fields), row["hash"])

        return {
            "versions": version,
            "checkpoints": lambda r: bool(c.open(r["blob"], "checkpoints", owned(r), r["version"]) or True),
            "snapshots": snapshot,
            "snapshot_values": lambda r: bool(
                c.open_each({r["digest"].hex(): r["blob"]}, "snapshot_values", owned(r))
            ),
            "editors": lambda r: bool(c.open(r["blob"], "editors", owned(r)) or True),
            "settings": lambda r: bool(c.open(r["blob"], "settings", r["key"]) or True),
            "sessions": lambda r: bool(c.open(r["client_blob"], "sessions", r["id"]) or True),
            "session_editors": lambda r: bool(c.open(r["blob"], "session_editors", r["session"]) or True),
            "audit": audit,
            "feed": lambda r: _fed(r["context_id"], uids),
            "quarantine": lambda r: True,  # set aside already: plaintext about ciphertext, kept as it is
        }
