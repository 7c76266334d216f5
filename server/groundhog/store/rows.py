"""Row-level operations inside one transaction: contexts, versions, checkpoints, snapshots, editor
records, settings, the change feed and the audit log (session rows: store/sessions.py). Everything
is decrypted on the way out and encrypted on the way in; no business rules live here (see
tracker.py for those)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.store.codec import Cipher, Payload, Values
from groundhog.store.records import (
    ContextRow,
    FeedEvent,
    SnapshotInfo,
    StoredState,
    VersionInfo,
)
from groundhog.store.sessions import SessionRows
from groundhog.store.values import ValueDigests, by_digest, chunks, pack_manifest, unpack_manifest
from groundhog.timeutil import now

_CONTEXT_COLUMNS = "id, uid, head, head_hash, anchor, cp_version, cp_bytes, created, modified"
FEED_KEEP = 10_000


def chain_hash(key: bytes, prev: bytes, *parts: str | int | bytes | None) -> bytes:
    """A keyed link of a hash chain: HMAC-SHA256 over the previous link and this row's fields
    (blobs by their SHA-256), so the chain cannot be rewritten without the workspace key."""
    digest = hmac.new(key, prev, hashlib.sha256)
    for part in parts:
        if part is None:
            encoded = b"\xff"
        elif isinstance(part, bytes):
            encoded = hashlib.sha256(part).digest()
        else:
            encoded = str(part).encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
    return digest.digest()


def genesis_hash(uid: str) -> bytes:
    return hashlib.sha256(b"groundhog/genesis|" + uid.encode()).digest()


AUDIT_GENESIS = bytes(32)


class Txn(SessionRows):
    """The operations available inside one store transaction."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        cipher: Cipher,
        keys: dict[str, bytes],
        settings: Any,
        digests: ValueDigests,
    ) -> None:
        self.conn = conn
        self.cipher = cipher
        self.mac_key = keys["name-mac"]
        self.chain_key = keys["chain"]
        self.settings = settings
        self.digests = digests
        self.after_commit: list[Callable[[], None]] = []  # run once the transaction has committed

    def version_hash(self, uid: str, version: int, link: int, prev: bytes, row: dict[str, Any]) -> bytes:
        return chain_hash(
            self.chain_key,
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

    # -- contexts -------------------------------------------------------------------------------

    def name_mac(self, name: str) -> bytes:
        return hmac.new(self.mac_key, name.encode(), hashlib.sha256).digest()

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
            " cp_bytes, created, modified) VALUES (?, ?, ?, 0, ?, 1, 1, 0, ?, ?)",
            (uid, self.name_mac(name), name_blob, genesis_hash(uid), ts, ts),
        )
        assert cursor.lastrowid is not None
        row = ContextRow(cursor.lastrowid, uid, name, 0, genesis_hash(uid), 1, 1, 0, ts, ts)
        changed = sorted(state.values)
        return self.append_version(row, state, kind, session, changed, delta=None)

    def delete_context(self, row: ContextRow) -> None:
        self.conn.execute("DELETE FROM contexts WHERE id = ?", (row.id,))
        self.conn.execute("DELETE FROM feed WHERE context_id = ?", (row.id,))

    # -- versions -------------------------------------------------------------------------------

    def append_version(
        self,
        row: ContextRow,
        state: StoredState,
        kind: str,
        session: str,
        changed_keys: list[str],
        delta: Payload | None,
        link: tuple[int, bytes] | None = None,
    ) -> tuple[ContextRow, VersionInfo]:
        """Append ``state`` as version head+1. ``delta`` is how it differs from the head; None starts
        a new chain (create, recover), which always writes a checkpoint. A delta as large as half
        the state is not written at all: the version gets a checkpoint instead of both. ``link`` is
        the (version, hash) this version chains to, by default the head."""
        version = row.head + 1
        link_version, prev = link or (row.head, row.head_hash)
        place = ("versions", row.uid, version)
        packed = None if delta is None else delta.pack()
        if packed is not None and len(packed) * 2 >= state.measured_size() and len(packed) > 64 * 1024:
            packed = None
        fields: dict[str, Any] = {
            "ts": now(),
            "kind": kind,
            "session": session,
            "keys_blob": self.cipher.seal(orjson.dumps(changed_keys), *place, "keys"),
            "delta_blob": None if packed is None else self.cipher.seal(packed, *place, "delta"),
        }
        digest = self.version_hash(row.uid, version, link_version, prev, fields)
        self.conn.execute(
            "INSERT INTO versions(context_id, version, ts, kind, session, keys_blob, delta_blob,"
            " link, prev_hash, hash) VALUES (:id, :version, :ts, :kind, :session, :keys_blob,"
            " :delta_blob, :link, :prev, :hash)",
            {**fields, "id": row.id, "version": version, "link": link_version, "prev": prev, "hash": digest},
        )
        ts, delta_blob = fields["ts"], fields["delta_blob"]
        cp_version, cp_bytes = row.cp_version, row.cp_bytes + len(delta_blob or b"")
        state_bytes = state.measured_size()
        if (
            delta_blob is None
            or version - cp_version >= self.settings.checkpoint_every
            or cp_bytes >= max(state_bytes, 64 * 1024)
        ):
            self._write_checkpoint(row, version, state)
            cp_version, cp_bytes = version, 0
        self.conn.execute(
            "INSERT INTO feed(context_id, version, kind, session) VALUES (?, ?, ?, ?)",
            (row.id, version, kind, session),
        )
        self.conn.execute(
            "UPDATE contexts SET head = ?, head_hash = ?, cp_version = ?, cp_bytes = ?, modified = ?"
            " WHERE id = ?",
            (version, digest, cp_version, cp_bytes, ts, row.id),
        )
        new_row = ContextRow(
            row.id,
            row.uid,
            row.name,
            version,
            digest,
            row.anchor,
            cp_version,
            cp_bytes,
            row.created,
            ts,
        )
        new_row = self._apply_retention(new_row)
        state.version, state.last_modified = version, ts
        return new_row, VersionInfo(version, ts, kind, session, changed_keys)

    def _write_checkpoint(self, row: ContextRow, version: int, state: StoredState) -> None:
        payload = Payload(values=state.values, metadata=state.metadata)
        blob = self.cipher.seal(payload.pack(), "checkpoints", row.uid, version)
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoints(context_id, version, blob) VALUES (?, ?, ?)",
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
        plain = self.cipher.open(blob, "checkpoints", row.uid, cp_version)
        base = Payload.unpack(plain) if decode else Payload()
        state = StoredState(cp_version, "", base.values, base.metadata or {})
        expected = cp_version + 1
        for number, delta_blob in self.conn.execute(
            "SELECT version, delta_blob FROM versions WHERE context_id = ? AND version > ?"
            " AND version <= ? ORDER BY version",
            (row.id, cp_version, version),
        ):
            if number != expected or delta_blob is None:
                raise DataDamaged(f"Version {expected} of context {row.name!r} is missing.")
            plain = self.cipher.open(delta_blob, "versions", row.uid, number, "delta")
            if decode:
                apply_delta(state, Payload.unpack(plain))
            expected += 1
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

    def _open_keys(self, row: ContextRow, version: int, blob: bytes) -> list[str]:
        keys: list[str] = orjson.loads(self.cipher.open(blob, "versions", row.uid, version, "keys"))
        return keys

    # -- snapshots ------------------------------------------------------------------------------

    def insert_snapshot(
        self,
        row: ContextRow,
        state: StoredState,
        *,
        label: str | None,
        metadata: dict[str, Any],
        editor: dict[str, Any] | None,
        kind: str,
    ) -> SnapshotInfo:
        snapshot_id = uuid.uuid4().hex
        ts = now()
        size = state.measured_size()
        place = ("snapshots", row.uid, snapshot_id)
        # the plaintext columns a reader relies on are sealed with the label, so editing them shows
        bound = [state.version, ts, size, kind]
        info_blob = self.cipher.seal(
            orjson.dumps({"label": label, "metadata": metadata, "bound": bound}), *place
        )
        manifest = self.digests.manifest(row.uid, state.values)
        self._store_values(row, manifest, state.values)
        payload = Payload(  # the one value is the manifest, key -> digest (store/values.py)
            values={"": pack_manifest(manifest)},
            metadata=state.metadata,
            extra={"editor": editor, "lastModified": state.last_modified, "valuesBy": "digest"},
        )
        blob = self.cipher.seal(payload.pack(), *place, "state")
        self.conn.execute(
            "INSERT INTO snapshots(id, context_id, version, ts, size, kind, info_blob, blob)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (snapshot_id, row.id, state.version, ts, size, kind, info_blob, blob),
        )
        return SnapshotInfo(snapshot_id, row.name, state.version, ts, size, kind, label, metadata)

    def _store_values(self, row: ContextRow, manifest: dict[str, bytes], values: Values) -> None:
        """Store the values of ``manifest`` this context does not hold yet (store/values.py)."""
        unknown = sorted(self.digests.unknown(row.uid, manifest.values()))
        if not unknown:
            return
        raw_of = {digest.hex(): values[key] for key, digest in manifest.items()}
        held = self._value_blobs(row, unknown)
        # A row this process has not stored or checked yet is opened once before snapshots rely on it:
        # a damaged one is sealed again from the head's bytes (the keyed digest proves they are the
        # same), so one bad row cannot spoil every later snapshot that shares its value.
        damaged = [name for name, blob in held.items() if not self._opens(row, name, blob)]
        if damaged:
            resealed = self.cipher.seal_each(
                {name: raw_of[name] for name in damaged}, "snapshot_values", row.uid
            )
            self.conn.executemany(
                "UPDATE snapshot_values SET blob = ? WHERE context_id = ? AND digest = ?",
                [(blob, row.id, bytes.fromhex(name)) for name, blob in resealed.items()],
            )
        new = {name: raw_of[name] for name in (d.hex() for d in unknown) if name not in held}
        sealed = self.cipher.seal_each(new, "snapshot_values", row.uid)
        self.conn.executemany(
            "INSERT INTO snapshot_values(context_id, digest, blob) VALUES (?, ?, ?)",
            [(row.id, bytes.fromhex(name), blob) for name, blob in sealed.items()],
        )
        self.after_commit.append(self.digests.remember(row.uid, set(unknown)))

    def _value_blobs(self, row: ContextRow, digests: list[bytes]) -> dict[str, bytes]:
        """Hex digest -> sealed blob, for those of ``digests`` the context stores."""
        blobs: dict[str, bytes] = {}
        for chunk in chunks(digests):
            marks = ",".join("?" * len(chunk))
            for digest, blob in self.conn.execute(
                f"SELECT digest, blob FROM snapshot_values WHERE context_id = ? AND digest IN ({marks})",
                (row.id, *chunk),
            ):
                blobs[bytes(digest).hex()] = blob
        return blobs

    def _opens(self, row: ContextRow, name: str, blob: bytes) -> bool:
        try:
            self.cipher.open(blob, "snapshot_values", row.uid, name)
        except DataDamaged:
            return False
        return True

    def _load_values(self, row: ContextRow, manifest: dict[str, bytes]) -> Values:
        wanted = sorted(set(manifest.values()))
        blobs = self._value_blobs(row, wanted)
        try:
            if len(blobs) != len(wanted):
                raise DataDamaged(f"A value of a snapshot of context {row.name!r} is missing.")
            raw_of = self.cipher.open_each(blobs, "snapshot_values", row.uid)
        except DataDamaged:
            self.digests.forget(row.uid)  # the next snapshot checks (and mends) every row it shares
            raise
        return by_digest(manifest, raw_of)

    def list_snapshots(self, row: ContextRow) -> list[SnapshotInfo]:
        """The context's snapshots, newest first; an altered one is left out (``verify`` names it,
        and restoring it answers RecoveryError)."""
        cursor = self.conn.execute(
            "SELECT id, version, ts, size, kind, info_blob FROM snapshots WHERE context_id = ?"
            " ORDER BY ts DESC, rowid DESC",
            (row.id,),
        )
        listed = []
        for found in cursor.fetchall():
            try:
                listed.append(self._snapshot_info(row, *found))
            except DataDamaged:
                continue
        return listed

    def count_snapshots(self, row: ContextRow) -> int:
        return int(
            self.conn.execute("SELECT count(*) FROM snapshots WHERE context_id = ?", (row.id,)).fetchone()[0]
        )

    def load_snapshot(
        self, row: ContextRow, snapshot_id: str
    ) -> tuple[SnapshotInfo, StoredState, dict[str, Any] | None] | None:
        found = self.conn.execute(
            "SELECT id, version, ts, size, kind, info_blob, blob FROM snapshots"
            " WHERE id = ? AND context_id = ?",
            (snapshot_id, row.id),
        ).fetchone()
        if found is None:
            return None
        info = self._snapshot_info(row, *found[:6])
        payload = Payload.unpack(self.cipher.open(found[6], "snapshots", row.uid, found[0], "state"))
        extra = payload.extra or {}
        values = payload.values  # snapshots written before values were shared hold them inline
        if extra.get("valuesBy") == "digest":
            values = self._load_values(row, unpack_manifest(payload.values[""]))
        state = StoredState(
            info.version,
            extra.get("lastModified") or info.timestamp,
            values,
            payload.metadata or {},
        )
        return info, state, extra.get("editor")

    def _snapshot_info(
        self, row: ContextRow, sid: str, version: int, ts: str, size: int, kind: str, blob: bytes
    ) -> SnapshotInfo:
        info = self.cipher.open_json(blob, "snapshots", row.uid, sid)
        bound = info.get("bound")  # absent in snapshots written before it was sealed
        if bound is not None and bound != [version, ts, size, kind]:
            raise DataDamaged(f"Snapshot {sid}: its version, time, size or kind was altered.", snapshot=sid)
        return SnapshotInfo(sid, row.name, version, ts, size, kind, info["label"], info["metadata"])

    # -- editor records and settings ------------------------------------------------------------

    def save_editor(self, row: ContextRow, editor: dict[str, Any]) -> None:
        blob = self.cipher.seal_json(editor, "editors", row.uid)
        self.conn.execute(
            "INSERT OR REPLACE INTO editors(context_id, ts, blob) VALUES (?, ?, ?)",
            (row.id, now(), blob),
        )

    def load_editor(self, row: ContextRow) -> dict[str, Any] | None:
        found = self.conn.execute("SELECT blob FROM editors WHERE context_id = ?", (row.id,)).fetchone()
        if found is None:
            return None
        editor: dict[str, Any] = self.cipher.open_json(found[0], "editors", row.uid)
        return editor

    def put_setting(self, key: str, value: Any) -> None:
        blob = self.cipher.seal_json(value, "settings", key)
        self.conn.execute("INSERT OR REPLACE INTO settings(key, blob) VALUES (?, ?)", (key, blob))

    def get_setting(self, key: str) -> Any:
        found = self.conn.execute("SELECT blob FROM settings WHERE key = ?", (key,)).fetchone()
        return None if found is None else self.cipher.open_json(found[0], "settings", key)

    # -- change feed ----------------------------------------------------------------------------

    def feed_head(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM feed").fetchone()[0])

    def feed_after(self, seq: int, limit: int = 500) -> list[FeedEvent]:
        events = []
        rows = self.conn.execute(
            "SELECT f.seq, f.context_id, f.version, f.kind, f.session, v.keys_blob FROM feed f"
            " JOIN versions v ON v.context_id = f.context_id AND v.version = f.version"
            " WHERE f.seq > ? ORDER BY f.seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        names: dict[int, ContextRow | None] = {}
        for number, context_id, version, kind, session, keys_blob in rows:
            if context_id not in names:
                names[context_id] = self.context_by_id(context_id)
            row = names[context_id]
            if row is not None:
                keys = self._open_keys(row, version, keys_blob)
                events.append(FeedEvent(number, row.name, version, kind, session, keys))
        return events

    def prune_feed(self) -> None:
        self.conn.execute("DELETE FROM feed WHERE seq <= ?", (self.feed_head() - FEED_KEEP,))

    # -- quarantine and audit -------------------------------------------------------------------

    def quarantine(self, source: str, uid: str, version: int, reason: str, row: dict[str, Any]) -> None:
        packed = orjson.dumps({k: v.hex() if isinstance(v, bytes) else v for k, v in row.items()})
        self.conn.execute(
            "INSERT INTO quarantine(ts, source, context_uid, version, reason, row) VALUES (?, ?, ?, ?, ?, ?)",
            (now(), source, uid, version, reason, packed),
        )

    def audit(self, event: str, session: str, details: dict[str, Any]) -> None:
        """Append one record to the encrypted, hash-chained audit log."""
        last = self.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, AUDIT_GENESIS) if last is None else (last[0] + 1, last[1])
        ts = now()
        blob = self.cipher.seal_json(details, "audit", seq)
        digest = chain_hash(self.chain_key, prev, seq, ts, event, session, blob)
        self.conn.execute(
            "INSERT INTO audit(seq, ts, event, session, blob, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, event, session, blob, prev, digest),
        )

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


def apply_delta(state: StoredState, delta: Payload) -> None:
    state.size = -1
    for key in delta.removed:
        state.values.pop(key, None)
    state.values.update(delta.values)
    if delta.metadata is not None:
        state.metadata = delta.metadata


def new_session_id() -> str:
    return "s-" + secrets.token_hex(8)
