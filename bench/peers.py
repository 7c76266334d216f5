"""The peers: how other tools keep an assistant's state, each run in-process (their real deployment:
a plugin or extension writes its own files, no LSP hop), on the same states as Groundhog.

- ``JsonRewrite``: session plugins and the MCP memory server rewrite one JSON file per change: the
  whole state to a temp file, fsync, rename over the old one, fsync the directory. Serialized with
  orjson (the fastest serializer at hand, so the peer is not handicapped).
- ``ShadowGit``: the checkpoint approach of Cline and Roo Code: the state in a file of a shadow git
  repository, one ``git add`` + ``git commit`` per snapshot, ``git checkout <commit> -- file`` per
  rollback. Real ``git`` CLI with its default settings (by default git does not fsync loose objects),
  no system or global config, no hooks, no automatic gc.
- ``SqliteKv``: VS Code's state.vscdb approach: a plain key/value table (WAL), no history, no
  encryption, ``INSERT OR REPLACE`` of the whole state JSON per update; synchronous FULL (as Groundhog)
  or NORMAL (what VS Code uses).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import zlib
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import orjson

STATE_FILE = "state.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JsonRewrite:
    name = "json_rewrite"

    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / STATE_FILE
        self.state = dict(state)
        self._write()

    def update(self, key: str, value: Any) -> None:
        self.state[key] = value
        self._write()

    def get(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self.path.read_bytes())
        return result

    def _write(self) -> None:
        temp = self.directory / (STATE_FILE + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps(self.state))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.path)
        _fsync_dir(self.directory)


class ShadowGit:
    name = "git"

    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / STATE_FILE
        self.state = dict(state)
        home = directory.parent / (directory.name + "-home")
        home.mkdir(exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        self.git("init", "-q", ".")
        self.commits: list[str] = []
        self.write_state()
        self.snapshot()
        self.record_head()

    def git(self, *args: str) -> str:
        command = [
            "git",
            "-c",
            "user.name=groundhog-bench",
            "-c",
            "user.email=bench@groundhog.invalid",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "gc.auto=0",
            "-c",
            "commit.gpgSign=false",
            *args,
        ]
        done = subprocess.run(
            command, cwd=self.directory, env=self.env, capture_output=True, check=True, text=True
        )
        return done.stdout

    def write_state(self) -> None:
        """The working file changes outside the checkpoint (the editor or agent writes it)."""
        self.path.write_bytes(orjson.dumps(self.state))

    def change(self, key: str, value: Any) -> None:
        self.state[key] = value
        self.write_state()

    def snapshot(self) -> None:
        """One checkpoint, what it costs the tool: ``git add`` + ``git commit``."""
        self.git("add", STATE_FILE)
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-m", "checkpoint")

    def record_head(self) -> None:
        """Remember the head commit (bookkeeping, not timed)."""
        self.commits.append(self.git("rev-parse", "HEAD").strip())

    def build_history(self, states: Iterable[bytes], compressed: Collection[int] = ()) -> None:
        """Append one commit per state quickly, for setting up a long history (not timed): the loose
        objects ``git add`` + ``git commit`` write, written directly instead of by two processes per
        commit. Blobs whose index is in ``compressed`` (the ones rollbacks will read) get git's
        core.looseCompression default (zlib level 1); the others, never read, are stored (zlib level 0,
        equally valid), because compressing 1 MB at level 1 costs ~30-70 ms here."""
        parent = self.git("rev-parse", "HEAD").strip()
        stamp = 1_700_000_000
        for i, content in enumerate(states):
            blob = self._object(b"blob", content, 1 if i in compressed else 0)
            tree = self._object(b"tree", b"100644 " + STATE_FILE.encode() + b"\0" + bytes.fromhex(blob))
            who = f"groundhog-bench <bench@groundhog.invalid> {stamp + i} +0000"
            text = f"tree {tree}\nparent {parent}\nauthor {who}\ncommitter {who}\n\ncheckpoint\n"
            parent = self._object(b"commit", text.encode())
            self.commits.append(parent)
        self.git("update-ref", "HEAD", parent)
        self.git("reset", "-q", "--hard", "HEAD")

    def _object(self, kind: bytes, body: bytes, level: int = 1) -> str:
        data = kind + b" %d\0" % len(body) + body
        digest = hashlib.sha1(data).hexdigest()
        path = self.directory / ".git" / "objects" / digest[:2] / digest[2:]
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(zlib.compress(data, level))
        return digest

    def rollback(self, commit: str) -> None:
        self.git("checkout", commit, "--", STATE_FILE)


class SqliteKv:
    def __init__(self, path: Path, state: dict[str, Any], synchronous: str = "FULL") -> None:
        self.name = f"sqlite_kv_{synchronous.lower()}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)"
        )
        self.state = dict(state)
        self._write()

    def update(self, key: str, value: Any) -> None:
        self.state[key] = value
        self._write()

    def get(self) -> dict[str, Any]:
        row = self.conn.execute("SELECT value FROM ItemTable WHERE key = 'state'").fetchone()
        result: dict[str, Any] = orjson.loads(row[0])
        return result

    def _write(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT OR REPLACE INTO ItemTable (key, value) VALUES ('state', ?)", (orjson.dumps(self.state),)
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
