"""What every group of row operations (store/versions.py, snapshots.py, audit.py, sessions.py) may
use inside one transaction; the transaction class (store/rows.py) sets it up and mixes them in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from groundhog.store.keyring import TxnCipher
from groundhog.store.records import ContextRow
from groundhog.store.values import ValueDigests


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    @property
    def description(self) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The DB-API calls the row layer makes, with ``?`` placeholders and portable SQL: sqlite3's
    connection, or the PostgreSQL adapter (store/postgres.py)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Any, /) -> Cursor: ...


class Rows:
    conn: Connection
    cipher: TxnCipher
    mac_key: bytes
    chain_key: bytes
    settings: Any
    digests: ValueDigests
    after_commit: list[Callable[[], None]]
    setting_rows: dict[str, bytes | None]  # the settings rows this transaction read or wrote
    settings_asked: dict[str, Cursor]  # and those it asked for, not read yet

    # Defined by another group; declared here (last in the MRO) for the type checker.
    def name_mac(self, name: str) -> bytes:
        raise NotImplementedError

    def context_by_id(self, context_id: int) -> ContextRow | None:
        raise NotImplementedError

    def _open_keys(self, row: ContextRow, version: int, blob: bytes) -> list[str]:
        raise NotImplementedError

    def changed_keys_between(self, row: ContextRow, low: int, high: int) -> set[str] | None:
        raise NotImplementedError

    def prune_feed(self, newest: int | None = None) -> None:
        raise NotImplementedError

    def _append_feed(self, context_id: int, version: int, kind: str, session: str) -> None:
        raise NotImplementedError

    def put_setting(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def get_setting(self, key: str) -> Any:
        raise NotImplementedError

    def delete_setting(self, key: str) -> None:
        raise NotImplementedError

    def want_settings(self, *keys: str) -> None:
        raise NotImplementedError

    def drop_unreferenced_values(self, row: ContextRow) -> None:
        raise NotImplementedError

    def audit(self, event: str, session: str, details: dict[str, Any]) -> None:
        raise NotImplementedError

    def _cut_audit(self, cut: int) -> None:
        raise NotImplementedError

    def budget_pass(self) -> None:
        raise NotImplementedError
