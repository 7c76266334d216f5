"""Snapshots and recovery points: a sealed manifest over values stored once per context
(store/values.py), independent of the version history.

A manifest lists every key of a state (~1.2 MB at 20,000 keys), so writing one per snapshot made a
snapshot, and every rollback (which records a recovery point), cost the state. A manifest is now,
when cheaper, a delta of its parent's: the entries of the keys the versions since the parent's
version changed, and the keys they removed (``valuesBy: "delta"``, the parent's id sealed in the
blob). The parent is the context's newest user snapshot or base row. User snapshots are never
pruned (they go only with their context); recovery points, which are pruned, are never parents: one
that needs a whole manifest writes it into a hidden base row (kind ``base``: never listed, counted
or pruned) and is itself an empty delta of it; a base row goes in the sweep that drops unreferenced
values, once no row builds on it. So no pruning, retention fold or budget pass breaks a chain.

A whole manifest is written instead when the versions between are not all kept and chained one to
the next, when the chain would be deeper than ``MAX_CHAIN_DEPTH`` or hold more entries than the
state has keys (so reading a snapshot stays bounded by about twice a whole manifest), and for a
process's first snapshot of a context (it checks, and mends, every stored value it relies on:
store/values.py). A delta's blob is sealed like any other, and a missing or altered parent makes
the child fail to read like a damaged row."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.store.codec import Payload, Values
from groundhog.store.records import ContextRow, SnapshotInfo, StoredState
from groundhog.store.rowbase import Cursor, Rows
from groundhog.store.values import by_digest, chunks, pack_manifest, unpack_manifest
from groundhog.timeutil import now

# A snapshot's manifest is a delta of its parent's (the newest user snapshot) when that is cheaper:
# reading one then costs at most this many blobs, and entries adding up to one whole manifest.
MAX_CHAIN_DEPTH = 64
MIN_CHAIN_ENTRIES = 64  # small states: a few deltas before a whole manifest, whatever their size
# what a reader follows before calling a chain malformed: above the writers' depth, so chains written
# with another MAX_CHAIN_DEPTH still read
_READ_DEPTH_LIMIT = 1024


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
        delta = self._manifest_delta(row, state)
        if delta is None and kind == "recoveryPoint":
            # a recovery point is never a parent (it is pruned): its whole manifest goes into a
            # hidden base row, which later recovery points build on and which goes once none does
            base = self._insert_row(row, state, "base", None, {}, None, None)
            delta = ({}, [], [base.id, 1, 0])
        info = self._insert_row(row, state, kind, label, metadata, editor, delta)
        if kind == "recoveryPoint":
            self._prune_recovery_points(row)
        self.budget_pass()  # a snapshot is one of the moments the store grows by a state's size
        return info

    def _insert_row(
        self,
        row: ContextRow,
        state: StoredState,
        kind: str,
        label: str | None,
        metadata: dict[str, Any],
        editor: dict[str, Any] | None,
        delta: tuple[dict[str, bytes], list[str], list[Any]] | None,
    ) -> SnapshotInfo:
        snapshot_id = uuid.uuid4().hex
        ts = now()
        size = state.measured_size()
        place = ("snapshots", row.uid, snapshot_id)
        if delta is None:  # a whole manifest, key -> digest (store/values.py)
            manifest = self.digests.manifest(row.uid, state.values)
            removed: list[str] = []
            chain: list[Any] = [None, 0, 0]
            values_by: dict[str, Any] = {"valuesBy": "digest"}
        else:  # only what changed since the parent (see the module docstring)
            manifest, removed, chain = delta
            values_by = {"valuesBy": "delta", "parent": chain[0]}
        # the plaintext columns a reader relies on are sealed with the label, so editing them shows;
        # so is the manifest chain a later snapshot reads to choose its parent
        bound = [state.version, ts, size, kind]
        info_blob = self.cipher.seal(
            orjson.dumps({"label": label, "metadata": metadata, "bound": bound, "chain": chain}), *place
        )
        self._store_values(row, manifest, state.values)
        if delta is None:
            self.after_commit.append(self.digests.checked(row.uid))
        payload = Payload(
            values={"": pack_manifest(manifest)},
            removed=removed,
            metadata=state.metadata,
            extra={"editor": editor, "lastModified": state.last_modified, **values_by},
        )
        blob = self.cipher.seal(payload.pack(), *place, "state")
        self.conn.execute(
            "INSERT INTO snapshots(id, context_id, version, ts, size, kind, info_blob, blob)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (snapshot_id, row.id, state.version, ts, size, kind, info_blob, blob),
        )
        return SnapshotInfo(snapshot_id, row.name, state.version, ts, size, kind, label, metadata)

    def _manifest_delta(
        self, row: ContextRow, state: StoredState
    ) -> tuple[dict[str, bytes], list[str], list[Any]] | None:
        """The manifest of ``state`` as a delta of the context's newest parent: the entries
        of the keys the versions in between changed, and the keys they removed. None when a whole
        manifest is due (no parent, the versions between are not all kept and chained, or the chain
        would grow past its bounds)."""
        self.want_settings(_generation_key(row))  # asked together (one round trip on a shared store)
        parent_rows = self._ask_newest_parent(row)
        self.digests.sync(row.uid, self._values_generation(row))
        if not self.digests.knows(row.uid):
            return None
        parent = self._newest_parent(row, parent_rows.fetchone())
        if parent is None:
            return None
        parent_id, parent_version, depth, entries = parent
        if depth >= MAX_CHAIN_DEPTH or parent_version > state.version:
            return None
        keys = self.changed_keys_between(row, parent_version, state.version)
        if keys is None:
            return None
        present = [key for key in keys if key in state.values]
        removed = sorted(key for key in keys if key not in state.values)
        grown = entries + len(keys)
        if grown > max(len(state.values), MIN_CHAIN_ENTRIES):  # reading it would cost more than a whole one
            return None
        manifest = self.digests.digests_of(state.values, sorted(present))
        return manifest, removed, [parent_id, depth + 1, grown]

    def _ask_newest_parent(self, row: ContextRow) -> Cursor:
        return self.conn.execute(
            "SELECT id, version, ts, size, kind, info_blob FROM snapshots WHERE context_id = ?"
            " AND kind IN ('snapshot', 'base') ORDER BY ts DESC, rowid DESC LIMIT 1",
            (row.id,),
        )

    def _newest_parent(self, row: ContextRow, found: Any) -> tuple[str, int, int, int] | None:
        """(id, version, depth, chain entries) of the context's newest user snapshot or base row
        (``found``), if it can be a parent: written with its chain recorded. Recovery points are
        never parents: they are pruned; user snapshots never are, and a base row goes only once no
        row refers to it."""
        if found is None:
            return None
        sid, version, ts, size, kind, blob = found
        try:
            info = self.cipher.open_json(blob, "snapshots", row.uid, sid)
        except DataDamaged:
            return None
        chain = info.get("chain")
        if info.get("bound") != [version, ts, size, kind] or not _is_chain(chain):
            return None
        return sid, int(version), int(chain[1]), int(chain[2])

    def _prune_recovery_points(self, row: ContextRow) -> None:
        """Keep the newest ``recovery_points_keep`` recovery points of the context (every rollback
        records one; user snapshots are never pruned), then drop the stored values no remaining
        snapshot refers to."""
        keep = self.settings.recovery_points_keep
        counter = f".values-pruned:{row.uid}"
        self.want_settings(counter)  # with the prune: one round trip on a shared store
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
        since = self.get_setting(counter)
        since = (since if isinstance(since, int) else 0) + pruned
        if since >= keep:
            self.drop_unreferenced_values(row)
            since = 0
        self.put_setting(counter, since)

    def drop_unreferenced_values(self, row: ContextRow) -> None:
        """Drop the base rows no snapshot builds on any more, then the values no row refers to (a
        delta's parents are rows too, so what it inherits stays)."""
        entries: dict[str, set[bytes]] = {}
        parents: set[str] = set()
        bases: set[str] = set()
        for sid, kind in self.conn.execute(
            "SELECT id, kind FROM snapshots WHERE context_id = ?", (row.id,)
        ).fetchall():  # one blob in memory at a time
            blob = self.conn.execute("SELECT blob FROM snapshots WHERE id = ?", (sid,)).fetchone()[0]
            payload = Payload.unpack(self.cipher.open(blob, "snapshots", row.uid, sid, "state"))
            extra = payload.extra or {}
            if extra.get("valuesBy") in ("digest", "delta"):
                entries[sid] = set(unpack_manifest(payload.values[""]).values())
            if extra.get("valuesBy") == "delta":
                parents.add(str(extra.get("parent")))
            if kind == "base":
                bases.add(sid)
        unused_bases = bases - parents  # a base is whole: it refers to no other row
        if unused_bases:
            gone = [(sid,) for sid in sorted(unused_bases)]
            self.conn.executemany("DELETE FROM snapshots WHERE id = ?", gone)
        referenced: set[bytes] = set()
        for sid, digests in entries.items():
            if sid not in unused_bases:
                referenced |= digests
        stored = self.conn.execute(
            "SELECT id, digest FROM snapshot_values WHERE context_id = ?", (row.id,)
        ).fetchall()
        unused = [(value_id,) for value_id, digest in stored if bytes(digest) not in referenced]
        if unused:
            self.conn.executemany("DELETE FROM snapshot_values WHERE id = ?", unused)
            # every process (this one too) must stop trusting what it remembered as stored
            self.put_setting(_generation_key(row), self._values_generation(row) + 1)
            self.digests.dropped(row.uid)

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
            " AND kind <> 'base' ORDER BY ts DESC, rowid DESC",
            (row.id,),
        )
        listed = []
        for found in cursor.fetchall():
            try:
                listed.append(self._snapshot_info(row, *found))
            except DataDamaged:
                continue
        return listed

    def altered_snapshots(self, row: ContextRow) -> list[str]:
        """The snapshots (hidden base rows included) whose sealed description does not open or no
        longer matches their row: listings would have to leave them out (store/repair.py)."""
        altered = []
        for found in self.conn.execute(
            "SELECT id, version, ts, size, kind, info_blob FROM snapshots WHERE context_id = ?", (row.id,)
        ).fetchall():
            try:
                self._snapshot_info(row, *found)
            except (DataDamaged, KeyError, TypeError, ValueError):
                altered.append(str(found[0]))
        return altered

    def broken_snapshots(self, row: ContextRow) -> list[str]:
        """The snapshots that no longer rebuild (a salvage lost a value or a manifest they need)."""
        broken = []
        for (sid,) in self.conn.execute(
            "SELECT id FROM snapshots WHERE context_id = ?", (row.id,)
        ).fetchall():
            try:
                self.load_snapshot(row, sid)
            except (DataDamaged, KeyError, TypeError, ValueError):
                broken.append(str(sid))
        return broken

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
        if extra.get("valuesBy") in ("digest", "delta"):
            values = self._load_values(row, self._resolve_manifest(row, found[0], payload))
        state = StoredState(
            info.version,
            extra.get("lastModified") or info.timestamp,
            values,
            payload.metadata or {},
        )
        return info, state, extra.get("editor")

    def _resolve_manifest(self, row: ContextRow, snapshot_id: str, payload: Payload) -> dict[str, bytes]:
        """The whole manifest of a snapshot: its parents' back to a whole one, then each delta."""
        chain = [payload]
        seen = {snapshot_id}
        while (chain[-1].extra or {}).get("valuesBy") == "delta":
            parent = (chain[-1].extra or {}).get("parent")
            if not isinstance(parent, str) or parent in seen or len(chain) > _READ_DEPTH_LIMIT:
                raise DataDamaged(
                    f"Snapshot {snapshot_id}: its manifest chain is malformed.", snapshot=snapshot_id
                )
            seen.add(parent)
            found = self.conn.execute(
                "SELECT blob FROM snapshots WHERE id = ? AND context_id = ?", (parent, row.id)
            ).fetchone()
            if found is None:
                raise DataDamaged(
                    f"Snapshot {snapshot_id}: the snapshot its manifest builds on is missing.",
                    snapshot=snapshot_id,
                )
            chain.append(Payload.unpack(self.cipher.open(found[0], "snapshots", row.uid, parent, "state")))
        if (chain[-1].extra or {}).get("valuesBy") != "digest":
            raise DataDamaged(
                f"Snapshot {snapshot_id}: its manifest chain is malformed.", snapshot=snapshot_id
            )
        manifest = unpack_manifest(chain[-1].values[""])
        for delta in reversed(chain[:-1]):
            for key in delta.removed:
                manifest.pop(key, None)
            manifest.update(unpack_manifest(delta.values[""]))
        return manifest

    def _snapshot_info(
        self, row: ContextRow, sid: str, version: int, ts: str, size: int, kind: str, blob: bytes
    ) -> SnapshotInfo:
        info = self.cipher.open_json(blob, "snapshots", row.uid, sid)
        bound = info.get("bound")  # absent in snapshots written before it was sealed
        if bound is not None and bound != [version, ts, size, kind]:
            raise DataDamaged(f"Snapshot {sid}: its version, time, size or kind was altered.", snapshot=sid)
        return SnapshotInfo(sid, row.name, version, ts, size, kind, info["label"], info["metadata"])


def _is_chain(chain: Any) -> bool:
    return (
        isinstance(chain, list)
        and len(chain) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in chain[1:])
    )


def _generation_key(row: ContextRow) -> str:
    return f".values-generation:{row.uid}"
