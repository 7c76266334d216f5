"""The shared store's connection as the row layer sees it: statements sent in as few round trips
as their results allow.

On PostgreSQL each statement sent alone is a round trip to another process (on another machine, for
a team), while SQLite's are calls into a library. So the row layer's statements are not sent when
written but when some result is needed:

- a statement whose result nobody reads yet (an INSERT, an UPDATE, a SELECT not fetched yet) waits;
  reading any result sends everything that waits, in order, in one round trip (pipeline mode: each
  statement still a prepared one, its plan reused);
- a transaction's opening (``BEGIN``, the workspace's lock, what every write needs) waits too and
  goes out with the first statement; a write's last statements go out with its ``COMMIT``; a write
  transaction that never needed to begin ends without a word to the server;
- a read that needs one statement runs it alone, outside any transaction (``lazy``): a statement is
  its own consistent snapshot. If the read needs a second statement, the transaction begins there
  and runs the first statement again; if its answer changed meanwhile, ``TornRead`` has the store
  run the whole read again in a transaction from its start.

Every round trip is counted (``Exchanges``): the tests count them per operation with it, and
independently on the wire."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal

from psycopg import pq

from groundhog.store.pgpipe import RawConnection, exchange

Mode = Literal["write", "read", "lazy"]
STREAM_ROWS = 64  # rows a streamed result holds in memory at a time


class TornRead(Exception):  # not an error: the store runs the read again
    """A lazy read's first answer is not what its transaction sees: run the read again."""


class Exchanges:
    """Round trips to the server, counted per store (all its connections)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The row layer's SQLite-style placeholders (``?``, ``:name``) in psycopg's spelling."""
    if "%" in sql:  # psycopg reads % as a placeholder; the row layer never writes one
        raise AssertionError("a statement of the row layer contains '%'")
    return _NAMED.sub(r"%(\1)s", sql.replace("?", "%s"))


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")  # sqlite's :name, not PostgreSQL's ::type
_cursor_names = itertools.count()


class Statement:
    """One statement of the row layer, and its result once it has been sent: the row layer's cursor."""

    def __init__(self, conn: PgConnection, sql: str, parameters: Any) -> None:
        self._conn, self.sql, self.parameters = conn, sql, parameters
        self.sent = False
        self.rows: list[Any] = []
        self._next = 0
        self._rowcount = -1
        self._result: pq.abc.PGresult | None = None

    def attach(self, result: pq.abc.PGresult, rows: list[Any]) -> None:
        self.rows = rows
        if result.status == pq.ExecStatus.TUPLES_OK:
            self._result = result
        self._rowcount = result.command_tuples if result.command_tuples is not None else -1
        self.sent = True

    def _result_needed(self) -> None:
        if not self.sent:
            self._conn.send()

    @property
    def reads(self) -> bool:
        return _reads(self.sql)

    def blob_bytes(self) -> int:
        if not self.parameters:
            return 0
        values = self.parameters.values() if isinstance(self.parameters, dict) else self.parameters
        return sum(len(v) for v in values if isinstance(v, bytes | bytearray | memoryview))

    # -- the DB-API cursor the row layer uses ---------------------------------------------------

    def fetchone(self) -> Any:
        self._result_needed()
        if self._next >= len(self.rows):
            return None
        self._next += 1
        return self.rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        self._result_needed()
        rest, self._next = self.rows[self._next :], len(self.rows)
        return rest

    @property
    def rowcount(self) -> int:
        self._result_needed()
        return self._rowcount

    @property
    def description(self) -> Any:
        """The column names only: psycopg's ``description`` builds an object per column, each
        time, which cost more than the rest of a one-row read."""
        self._result_needed()
        result = self._result
        if result is None:
            return None
        return [((result.fname(i) or b"").decode(),) for i in range(result.nfields)]

    def __iter__(self) -> Iterator[Any]:
        if not self.sent and self._conn.may_stream(self):
            yield from self._conn.stream(self)  # a large table, one batch at a time (verify)
            return
        while (row := self.fetchone()) is not None:
            yield row


class PgConnection:
    """The DB-API calls the row layer makes (``execute``, ``executemany``), on one psycopg
    connection inside one store transaction of the given ``mode``."""

    def __init__(self, raw: RawConnection, mode: Mode, exchanges: Exchanges) -> None:
        self.raw, self.mode, self._exchanges = raw, mode, exchanges
        self._waiting: list[Statement] = []
        self._opening: list[Statement] = []  # BEGIN and the statements that go with it
        self.wrote = False  # a statement that changes something was queued
        self.written = 0  # bytes of the blobs it writes
        self._settled: Statement | None = None  # a lazy read's first statement, run alone

    def execute(self, sql: str, parameters: Any = (), /) -> Statement:
        statement = Statement(self, sql, parameters)
        if not statement.reads:
            if self.mode != "write":
                raise AssertionError("a read transaction of the shared store may not write")
            self.wrote = True
            self.written += statement.blob_bytes()
        self._waiting.append(statement)
        return statement

    def executemany(self, sql: str, parameters: Sequence[Any], /) -> Statement:
        last = Statement(self, sql, ())
        for each in parameters:
            last = self.execute(sql, each)
        return last

    def open(self, *statements: str) -> list[Statement]:
        """The statements that open the transaction (BEGIN first): sent with the first statement
        that must go, or not at all if none must."""
        self._opening = [Statement(self, sql, None) for sql in statements]
        self._waiting[:0] = self._opening
        return self._opening

    @property
    def begun(self) -> bool:
        """A transaction block is open on the server."""
        return bool(self._opening) and self._opening[0].sent

    # -- sending --------------------------------------------------------------------------------

    def send(self) -> None:
        """Send every waiting statement, in order (whatever waits will be needed, or sent at the
        end anyway: all of it goes in this round trip)."""
        batch, self._waiting = self._waiting, []
        if not batch:
            return
        again: Statement | None = None
        if self.mode == "lazy" and not self._opening:
            if self._settled is None and len(batch) == 1:
                self._exchange(batch)  # alone, outside a transaction: its own snapshot
                self._settled = batch[0]
                return
            self._opening = [Statement(self, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None)]
            if self._settled is not None:  # the snapshot must see what the first statement saw
                again = Statement(self, self._settled.sql, self._settled.parameters)
            batch = [*self._opening, *([again] if again else []), *batch]
        self._exchange(batch)
        if again is not None and self._settled is not None and again.rows != self._settled.rows:
            raise TornRead

    def finish(self, tail: Sequence[str] = ()) -> None:
        """End the transaction: what waits goes out with ``tail`` (NOTIFY) and ``COMMIT``. A
        transaction that never had to begin (its opening still waits, nothing written) ends
        without a word to the server."""
        if not self.begun and not self.wrote and all(s in self._opening for s in self._waiting):
            self._waiting = []
            return
        if self._opening:
            for sql in (*tail, "COMMIT"):
                self._waiting.append(Statement(self, sql, None))
        if self._waiting:
            self.send()

    def _exchange(self, run: list[Statement]) -> None:
        self._exchanges.add()
        exchange(self.raw, run)

    # -- streaming a large result inside a transaction ------------------------------------------

    def may_stream(self, statement: Statement) -> bool:
        """Iterating a SELECT streams it only in a read transaction (verify, the checks on open: a
        whole table, never in memory at once); a write's or a lazy read's results are the few rows
        of one context, read in one round trip instead of a cursor's four or more."""
        return self.mode == "read" and bool(self._waiting) and self._waiting[-1] is statement

    def stream(self, statement: Statement) -> Iterator[Any]:
        self._waiting.remove(statement)
        self.send()  # what waits before it (the transaction's opening at least)
        with self.raw.cursor(name=f"gh_rows_{next(_cursor_names)}") as cursor:
            self._exchanges.add()  # DECLARE, and describing its rows: two round trips
            self._exchanges.add()
            cursor.execute(pg_sql(statement.sql), statement.parameters)
            statement.sent = True
            while True:
                self._exchanges.add()
                rows = cursor.fetchmany(STREAM_ROWS)
                if not rows:
                    break
                yield from rows
            self._exchanges.add()  # CLOSE, on leaving the block


@lru_cache(maxsize=512)
def _reads(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"
