"""The contexts' editor records, settings, and the change feed every session follows (the sessions
themselves, and whether each is alive: store/liveness.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from groundhog.errors import DataDamaged
from groundhog.store.records import ContextRow, FeedEvent
from groundhog.store.rowbase import Rows
from groundhog.timeutil import ago, now


@dataclass(frozen=True)
class EditorRecord:
    """The editor state most recently persisted into any context."""

    context_id: int
    saved: str
    blob: bytes


class SessionRows(Rows):
    """The contexts' editor records, settings, and the change feed every session follows."""

    def newest_editor_record(self) -> EditorRecord | None:
        found = self.conn.execute(
            "SELECT context_id, ts, blob FROM editors ORDER BY ts DESC, context_id LIMIT 1"
        ).fetchone()
        return None if found is None else EditorRecord(found[0], found[1], found[2])

    def change_marks(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Cheap fingerprints of what the feed does not carry: which contexts exist (create and
        delete), and the editor states sessions persisted. Equal marks: nothing of that changed."""
        contexts = self.conn.execute(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0) FROM contexts"
        ).fetchone()
        editors = self.conn.execute(
            "SELECT count(*), coalesce(max(rowid), 0), coalesce(max(ts), ''),"
            " (SELECT count(*) FROM sessions) FROM session_editors"
        ).fetchone()
        return tuple(contexts), tuple(editors)

    # -- editor records, settings, change feed --------------------------------------------------

    # The editor records and settings are single rows that are replaced in place, so a copy of an
    # older genuine row could be put back unnoticed (it still decrypts). Each write also records
    # the new row's digest in one sealed bindings row, and each read checks it: putting back an old
    # row alone is caught; only rolling back every such row together (a whole older state) is not.

    def save_editor(self, row: ContextRow, editor: dict[str, Any]) -> None:
        blob = self.cipher.seal_json(editor, "editors", row.uid)
        self.conn.execute(
            "INSERT INTO editors(context_id, ts, blob) VALUES (?, ?, ?)"
            " ON CONFLICT (context_id) DO UPDATE SET ts = excluded.ts, blob = excluded.blob",
            (row.id, now(), blob),
        )
        self._bind(f"editor:{row.uid}", blob)

    def load_editor(self, row: ContextRow) -> dict[str, Any] | None:
        self.want_settings(BINDINGS)  # with the editor's row: its check reads them
        found = self.conn.execute("SELECT blob FROM editors WHERE context_id = ?", (row.id,)).fetchone()
        if found is None:
            return None
        self._check_bound(f"editor:{row.uid}", found[0], f"the editor state of context {row.name!r}")
        editor: dict[str, Any] = self.cipher.open_json(found[0], "editors", row.uid)
        return editor

    def put_setting(self, key: str, value: Any) -> None:
        blob = self.cipher.seal_json(value, "settings", key)
        self._put_setting_row(key, blob)
        self._bind(f"setting:{key}", blob)

    def get_setting(self, key: str) -> Any:
        blob = self._setting_row(key)
        if blob is None:
            return None
        self._check_bound(f"setting:{key}", blob, f"the setting {key!r}")
        return self.cipher.open_json(blob, "settings", key)

    # A transaction reads a settings row once (snapshots and rollbacks read a few several times; on
    # a shared store each read is a round trip): what it wrote or read stays true until it ends.
    # ``want_settings`` asks for rows before they are read, so that on a shared store the question
    # travels with the next statement that must be answered (store/pgwire.py).
    def want_settings(self, *keys: str) -> None:
        for key in keys:
            if key not in self.setting_rows and key not in self.settings_asked:
                asked = self.conn.execute("SELECT blob FROM settings WHERE key = ?", (key,))
                self.settings_asked[key] = asked

    def _setting_row(self, key: str) -> bytes | None:
        if key not in self.setting_rows:
            self.want_settings(key)
            found = self.settings_asked.pop(key).fetchone()
            self.setting_rows[key] = None if found is None else bytes(found[0])
        return self.setting_rows[key]

    def _put_setting_row(self, key: str, blob: bytes) -> None:
        self.conn.execute(_PUT_SETTING, (key, blob))
        self.setting_rows[key] = blob
        self.settings_asked.pop(key, None)

    def delete_setting(self, key: str) -> None:
        self.conn.execute("DELETE FROM settings WHERE key = ?", (key,))
        self.setting_rows[key] = None
        self.settings_asked.pop(key, None)

    def unbound_rows(self) -> list[str]:
        """For ``verify``: the editor records and settings that are not the last ones written."""
        problems = []
        bindings = self._bindings()
        rows = self.conn.execute(
            "SELECT c.uid, c.id, e.blob FROM editors e JOIN contexts c ON c.id = e.context_id"
        )
        for uid, context_id, blob in rows.fetchall():
            expected = bindings.get(f"editor:{uid}")
            if expected is not None and expected != _digest(blob):
                problems.append(f"the editor state of context #{context_id}")
        for key, blob in self.conn.execute(
            "SELECT key, blob FROM settings WHERE key != ?", (BINDINGS,)
        ).fetchall():
            expected = bindings.get(f"setting:{key}")
            if expected is not None and expected != _digest(blob):
                problems.append(f"the setting {key!r}")
        return problems

    def _bindings(self) -> dict[str, str]:
        found = self._setting_row(BINDINGS)
        if found is None:
            return {}
        bindings: dict[str, str] = self.cipher.open_json(found, "settings", BINDINGS)
        return bindings

    def _bind(self, name: str, blob: bytes) -> None:
        bindings = self._bindings()
        bindings[name] = _digest(blob)
        sealed = self.cipher.seal_json(bindings, "settings", BINDINGS)
        self._put_setting_row(BINDINGS, sealed)

    def _check_bound(self, name: str, blob: bytes, what: str) -> None:
        expected = self._bindings().get(name)  # absent: written before rows were bound
        if expected is not None and expected != _digest(blob):
            raise DataDamaged(f"{what[0].upper()}{what[1:]} was replaced by another copy of it.")

    def feed_head(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM feed").fetchone()[0])

    def feed_after(self, seq: int, limit: int = 500) -> list[FeedEvent]:
        """The feed's rows after ``seq``, every one (FeedEvent says which can no longer be read)."""
        events = []
        rows = self.conn.execute(
            # the kind and session chained with the version where it is kept, not the feed row's copies
            "SELECT f.seq, f.context_id, f.version, coalesce(v.kind, f.kind), coalesce(v.session, f.session),"
            " v.keys_blob FROM feed f"
            " LEFT JOIN versions v ON v.context_id = f.context_id AND v.version = f.version"
            " WHERE f.seq > ? ORDER BY f.seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        names: dict[int, ContextRow | None] = {}
        for number, context_id, version, kind, session, keys_blob in rows:
            if context_id > 0 and context_id not in names:
                names[context_id] = self.context_by_id(context_id)
            row = names.get(context_id)
            if row is not None and keys_blob is not None:
                keys = self._open_keys(row, version, keys_blob)
                events.append(FeedEvent(number, row.name, version, kind, session, keys, context_id))
            else:  # a deleted context's row (see rows.delete_context), or a version folded away
                events.append(FeedEvent(number, "", version, kind, session, [], abs(context_id)))
        return events

    def _append_feed(self, context_id: int, version: int, kind: str, session: str) -> None:
        """The feed row of a new version, pruning the feed now and then."""
        seq = self.conn.execute(
            "INSERT INTO feed(context_id, version, kind, session) VALUES (?, ?, ?, ?) RETURNING seq",
            (context_id, version, kind, session),
        ).fetchone()[0]
        self.prune_feed(newest=int(seq))

    def prune_feed(self, newest: int | None = None) -> None:
        """Keep what a lagging session can still use (limits.py says why): the newest ``feed_keep``
        rows, and older ones while their version is kept and younger than ``feed_max_age_s``. A pass
        every tenth of ``feed_keep`` commits; the rows it looks at are the few that can still stay.
        ``newest``: the feed's head, when the caller just wrote it (one query less per commit)."""
        newest = self.feed_head() if newest is None else newest
        keep = self.settings.feed_keep
        if newest <= keep or newest % max(1, keep // 10):
            return
        self.conn.execute(
            f"DELETE FROM feed WHERE seq <= :upto AND {FEED_ROW_USELESS}",
            {"upto": newest - keep, "cutoff": feed_cutoff(self.settings)},
        )


# A feed row no lagging reader can use: its version is no longer kept, or older than the cutoff.
FEED_ROW_USELESS = (
    "NOT EXISTS (SELECT 1 FROM versions v WHERE v.context_id = feed.context_id"
    " AND v.version = feed.version AND v.ts >= :cutoff)"
)


def feed_cutoff(settings: Any) -> str:
    """Feed rows of versions written before this time are past their age."""
    return ago(settings.feed_max_age_s)


BINDINGS = ".bindings"  # the settings row holding the digests of the editor records and settings


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


_PUT_SETTING = (
    "INSERT INTO settings(key, blob) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET blob = excluded.blob"
)
