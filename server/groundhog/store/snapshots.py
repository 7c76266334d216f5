"""Snapshots and recovery points: a sealed manifest over values stored once per context
(store/values.py), independent of the version history."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.store.codec import Payload, Values
from groundhog.store.records import ContextRow, SnapshotInfo, StoredState
from groundhog.store.rowbase import Rows
from groundhog.store.values import by_digest, chunks, pack_manifest, unpack_manifest
from groundhog.timeutil import now


class SnapshotRows(Rows):
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
        if kind == "recoveryPoint":
            self._prune_recovery_points(row)
        self.budget_pass()  # a snapshot is one of the moments the store grows by a state's size
        return SnapshotInfo(snapshot_id, row.name, state.version, ts, size, kind, label, metadata)

    def _prune_recovery_points(self, row: ContextRow) -> None:
        """Keep the newest ``recovery_points_keep`` recovery points of the context (every rollback
        records one; user snapshots are never pruned), then drop the stored values no remaining
        snapshot refers to."""
        keep = self.settings.recovery_points_keep
        pruned = self.conn.execute(
            "DELETE FROM snapshots WHERE context_id = ? AND kind = 'recoveryPoint' AND id NOT IN"
            " (SELECT id FROM snapshots WHERE context_id = ? AND kind = 'recoveryPoint'"
            " ORDER BY ts DESC, rowid DESC LIMIT ?)",
            (row.id, row.id, keep),
        ).rowcount
        if not pruned:
            return
        # Finding unreferenced values reads every manifest of the context (~14 ms each at 20,000
        # keys): do it once per `keep` pruned recovery points, not on every rollback.
        counter = f".values-pruned:{row.uid}"
        since = self.get_setting(counter)
        since = (since if isinstance(since, int) else 0) + pruned
        if since >= keep:
            self.drop_unreferenced_values(row)
            since = 0
        self.put_setting(counter, since)

    def drop_unreferenced_values(self, row: ContextRow) -> None:
        referenced: set[bytes] = set()
        for sid, blob in self.conn.execute(
            "SELECT id, blob FROM snapshots WHERE context_id = ?", (row.id,)
        ).fetchall():
            payload = Payload.unpack(self.cipher.open(blob, "snapshots", row.uid, sid, "state"))
            if (payload.extra or {}).get("valuesBy") == "digest":
                referenced.update(unpack_manifest(payload.values[""]).values())
        stored = self.conn.execute(
            "SELECT id, digest FROM snapshot_values WHERE context_id = ?", (row.id,)
        ).fetchall()
        unused = [(value_id,) for value_id, digest in stored if bytes(digest) not in referenced]
        if unused:
            self.conn.executemany("DELETE FROM snapshot_values WHERE id = ?", unused)
            # every process (this one too) must stop trusting what it remembered as stored
            self.put_setting(_generation_key(row), self._values_generation(row) + 1)
            self.digests.forget(row.uid)

    def _values_generation(self, row: ContextRow) -> int:
        generation = self.get_setting(_generation_key(row))
        return generation if isinstance(generation, int) else 0

    def _store_values(self, row: ContextRow, manifest: dict[str, bytes], values: Values) -> None:
        """Store the values of ``manifest`` this context does not hold yet (store/values.py)."""
        self.digests.sync(row.uid, self._values_generation(row))
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


def _generation_key(row: ContextRow) -> str:
    return f".values-generation:{row.uid}"
