"""Deleting one snapshot: its row goes, the snapshots whose manifests are deltas of it are re-based
so that each still reads back exactly what it captured, and the values no remaining row refers to
are dropped.

A snapshot's manifest may be a delta of its parent's (store/snapshots.py). When the deleted one D
is such a parent, each child C is rewritten, in the same transaction:
- D a delta of P: C becomes a delta of P holding both steps, D's then C's (``compose``), unless
  that is larger than C's whole manifest (then C is written whole);
- D whole: C is written whole (its manifest resolved through D before D goes).
The rows are sealed again in place (same id, same associated data), with C's chain record updated
(its depth and entry count stay upper bounds, which is all a writer's bound needs). Then the sweep
of store/snapshots.py drops a base row nothing builds on any more and every value no remaining row
refers to, and moves the context's values generation on (every process stops trusting what it
remembered as stored).
"""

from __future__ import annotations

from typing import Any

import orjson

from groundhog.errors import DataDamaged
from groundhog.store.codec import Payload
from groundhog.store.records import ContextRow, SnapshotInfo
from groundhog.store.snapshots import MIN_CHAIN_ENTRIES, SnapshotRows
from groundhog.store.values import pack_manifest, unpack_manifest

Manifest = dict[str, bytes]


class SnapshotDeletion(SnapshotRows):
    def find_snapshot(self, row: ContextRow, snapshot_id: str) -> SnapshotInfo | None:
        """The listed snapshot (or recovery point) ``snapshot_id`` of the context; None for an
        unknown id, another context's, or a hidden base row."""
        found = self.conn.execute(
            "SELECT id, version, ts, size, kind, info_blob FROM snapshots"
            " WHERE id = ? AND context_id = ? AND kind <> 'base'",
            (snapshot_id, row.id),
        ).fetchone()
        return None if found is None else self._snapshot_info(row, *found)

    def delete_snapshot(self, row: ContextRow, snapshot_id: str) -> None:
        """Delete the row, re-base the rows built on it, drop what nothing refers to any more."""
        deleted = self._payload(row, snapshot_id)
        for child_id, child in self._children(row, snapshot_id):
            self._rebase(row, child_id, child, deleted)
        self.conn.execute("DELETE FROM snapshots WHERE id = ? AND context_id = ?", (snapshot_id, row.id))
        self.drop_unreferenced_values(row)

    def _payload(self, row: ContextRow, snapshot_id: str) -> Payload:
        blob = self.conn.execute(
            "SELECT blob FROM snapshots WHERE id = ? AND context_id = ?", (snapshot_id, row.id)
        ).fetchone()[0]
        return Payload.unpack(self.cipher.open(blob, "snapshots", row.uid, snapshot_id, "state"))

    def _children(self, row: ContextRow, parent: str) -> list[tuple[str, Payload]]:
        """The rows whose manifest is a delta of ``parent``'s (read one blob at a time)."""
        children = []
        for (sid,) in self.conn.execute(
            "SELECT id FROM snapshots WHERE context_id = ? AND id <> ?", (row.id, parent)
        ).fetchall():
            payload = self._payload(row, sid)
            extra = payload.extra or {}
            if extra.get("valuesBy") == "delta" and extra.get("parent") == parent:
                children.append((sid, payload))
        return children

    def _rebase(self, row: ContextRow, child_id: str, child: Payload, parent: Payload) -> None:
        extra = dict(child.extra or {})
        whole = self._resolve_manifest(row, child_id, child)  # through the parent, still there
        grandparent = (parent.extra or {}).get("parent")
        if (parent.extra or {}).get("valuesBy") == "delta" and isinstance(grandparent, str):
            entries, removed = compose(
                (unpack_manifest(parent.values[""]), parent.removed),
                (unpack_manifest(child.values[""]), child.removed),
            )
            if len(entries) + len(removed) <= max(len(whole), MIN_CHAIN_ENTRIES):
                extra["parent"] = grandparent
                self._rewrite(row, child_id, child, extra, entries, removed, grandparent)
                return
        extra.pop("parent", None)
        extra["valuesBy"] = "digest"
        self._rewrite(row, child_id, child, extra, whole, [], None)

    def _rewrite(
        self,
        row: ContextRow,
        sid: str,
        old: Payload,
        extra: dict[str, Any],
        manifest: Manifest,
        removed: list[str],
        parent: str | None,
    ) -> None:
        place = ("snapshots", row.uid, sid)
        payload = Payload({"": pack_manifest(manifest)}, removed, old.metadata, extra)
        blob = self.cipher.seal(payload.pack(), *place, "state")
        info_blob = self.conn.execute("SELECT info_blob FROM snapshots WHERE id = ?", (sid,)).fetchone()[0]
        info = self.cipher.open_json(info_blob, *place)
        chain = info.get("chain")
        if parent is None:
            info["chain"] = [None, 0, 0]
        elif isinstance(chain, list) and len(chain) == 3:
            info["chain"] = [parent, max(0, int(chain[1]) - 1), int(chain[2])]  # upper bounds still
        else:
            raise DataDamaged(f"Snapshot {sid}: its manifest chain is malformed.", snapshot=sid)
        self.conn.execute(
            "UPDATE snapshots SET blob = ?, info_blob = ? WHERE id = ?",
            (blob, self.cipher.seal(orjson.dumps(info), *place), sid),
        )


Delta = tuple[Manifest, list[str]]  # entries set, keys removed


def compose(first: Delta, then: Delta) -> Delta:
    """One manifest delta doing what ``first`` then ``then`` do (each: entries set, keys removed).
    Applying a delta is: drop the removed keys, then set the entries."""
    first_entries, first_removed = first
    then_entries, then_removed = then
    gone = set(then_removed)
    entries = {key: digest for key, digest in first_entries.items() if key not in gone}
    entries.update(then_entries)
    removed = sorted((set(first_removed) | gone) - entries.keys())
    return entries, removed
