"""The store's SQL schema. Plaintext columns hold only numbers, hashes, times, kinds and random ids;
everything a user wrote (names, data, labels, metadata, key names, client names) is in encrypted blobs.

Tables holding large blobs are rowid tables: in a WITHOUT ROWID table SQLite reads a whole record
(a 1 MB checkpoint) to compare keys, which made every index lookup cost milliseconds.
"""

import re
from collections.abc import Callable

# 2: snapshots hold manifests over shared values (store/values.py). A store is upgraded in place on
# open; a server that reads only an older format refuses it (from 2 on) instead of misreading it.
# 3: a delta may store a changed value as a splice of its old bytes (store/splices.py); an older
# server would read the splice as the whole value, so it must refuse the store.
# 4: a snapshot's manifest may be a delta of its parent's (store/snapshots.py); an older server
# would read the delta as the whole manifest, so it must refuse the store.
# 5: sessions hold a lease (``lease_until``, on the database's clock: store/liveness.py); an older
# server would not renew its sessions' leases, and they would be removed as gone.
# 6: a workspace may have members (members, member_keys) and more than one data key: a blob may be
# sealed under another key than the first (store/keyring.py), which an older server would take
# for damage.
SCHEMA_VERSION = 6
# The columns each format added to an older table (new tables come from SCHEMA itself); a store
# is brought up to date by adding those it lacks.
ADDED_COLUMNS: dict[int, tuple[tuple[str, str, str], ...]] = {
    5: (("sessions", "lease_until", "INTEGER"),),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (   -- the data keys (store/keyring.py)
    key_id INTEGER PRIMARY KEY,
    wrapped BLOB NOT NULL,            -- key 1: wrapped by the single key (empty with members),
                                      -- key n > 1: key n-1 sealed under key n
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (  -- store/membership.py
    fingerprint TEXT PRIMARY KEY,     -- of the member's public key
    public_key BLOB NOT NULL,
    added TEXT NOT NULL,
    info_blob BLOB NOT NULL           -- sealed: the member's name, who added it
);
CREATE TABLE IF NOT EXISTS member_keys (  -- the newest data key, wrapped for each member
    fingerprint TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (fingerprint, key_id)
);
CREATE TABLE IF NOT EXISTS contexts (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    name_mac BLOB NOT NULL UNIQUE,
    name_blob BLOB NOT NULL,
    head INTEGER NOT NULL,
    head_hash BLOB NOT NULL,
    anchor INTEGER NOT NULL,          -- oldest version physically kept
    cp_version INTEGER NOT NULL,      -- newest checkpoint
    cp_bytes INTEGER NOT NULL,        -- delta bytes written since that checkpoint
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    context_id INTEGER NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    session TEXT NOT NULL,
    keys_blob BLOB NOT NULL,          -- the top-level keys this version changed
    delta_blob BLOB,                  -- NULL where a checkpoint at this version holds the state
    link INTEGER NOT NULL,            -- the version this one chains to: version-1, or for a
                                      -- recover version the newest valid one before the damage
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (context_id, version)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    context_id INTEGER NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (context_id, version)
);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    context_id INTEGER NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    ts TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    info_blob BLOB NOT NULL,          -- label and metadata, small, read by listings
    blob BLOB NOT NULL                -- manifest (key -> value digest), metadata and editor state
);
CREATE INDEX IF NOT EXISTS snapshots_by_context ON snapshots(context_id, ts);
CREATE TABLE IF NOT EXISTS snapshot_values (  -- see store/values.py
    id INTEGER PRIMARY KEY,
    context_id INTEGER NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
    digest BLOB NOT NULL,             -- keyed BLAKE2b of the value's bytes
    blob BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS snapshot_values_by_digest ON snapshot_values(context_id, digest);
CREATE TABLE IF NOT EXISTS editors (
    context_id INTEGER PRIMARY KEY REFERENCES contexts(id) ON DELETE CASCADE,
    ts TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    active_mac BLOB,
    client_blob BLOB NOT NULL,
    lease_until INTEGER               -- milliseconds since the epoch, on the database's clock
);
CREATE TABLE IF NOT EXISTS session_editors (  -- each editor session's live editor state, for agents
    session TEXT PRIMARY KEY,         -- sessions.id, removed with the session
    ts TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    context_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    session TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    source TEXT NOT NULL,
    context_uid TEXT NOT NULL,
    version INTEGER NOT NULL,
    reason TEXT NOT NULL,
    row BLOB NOT NULL                 -- the set-aside row, its blobs still encrypted
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    event TEXT NOT NULL,
    session TEXT NOT NULL,
    blob BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
"""

TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))


def missing_columns(written_by: int, has: Callable[[str, str], bool]) -> list[str]:
    """The statements adding what a store written in format ``written_by`` lacks; ``has(table,
    column)`` says whether the store has that column already."""
    return [
        f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
        for version in range(written_by + 1, SCHEMA_VERSION + 1)
        for table, column, kind in ADDED_COLUMNS.get(version, ())
        if not has(table, column)
    ]
