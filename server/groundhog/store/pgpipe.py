"""One round trip to PostgreSQL for several statements, on libpq's pipeline mode directly.

psycopg's own pipeline (``Connection.pipeline()``) spent about a third of an update's time here in
Python (0.23 of 0.69 ms of client CPU for the same statements, measured with synchronous_commit
off); libpq does the same in C. So the statements go out through psycopg's libpq binding (``pq``,
public API) and their rows come back through psycopg's own loaders (``Transformer``):

- each statement with parameters is prepared once per connection (its plan kept by the server:
  a plan per statement each time cost the server more than executing it);
- parameters are sent as text, but bytes in binary (no hex doubling of a 1 MB blob); results come
  in binary, loaded by psycopg's loaders;
- an error answers the statement's own psycopg error class, as psycopg would raise it.
"""

from __future__ import annotations

import contextlib
import re
import select
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import psycopg
from psycopg import abc, pq
from psycopg import errors as pg_errors
from psycopg.adapt import Transformer

PREPARED_MAX = 512  # statements kept prepared per connection (the row layer writes fewer)
PARAMS_PREPARED_MAX = 32  # a statement with more (an IN list of digests) is planned each time
_BYTEA, _INT8, _BOOL = 17, 20, 16
_ExecStatus = pq.ExecStatus


class Sendable(Protocol):
    sql: str  # the row layer's SQL, ``?`` or ``:name`` placeholders
    parameters: Any

    def attach(self, result: pq.abc.PGresult, rows: list[Any]) -> None: ...


class RawConnection(psycopg.Connection[Any]):
    """psycopg's connection, with what this module keeps per connection: the statements it
    prepared, one loader of results, and one cursor for psycopg's own calls."""

    _gh_prepared: dict[tuple[str, tuple[int, ...]], bytes] | None = None
    _gh_loader: abc.Transformer | None = None

    def prepared(self) -> dict[tuple[str, tuple[int, ...]], bytes]:
        if self._gh_prepared is None:
            self._gh_prepared = {}
        return self._gh_prepared

    def loader(self) -> abc.Transformer:
        if self._gh_loader is None:
            self._gh_loader = Transformer(self)
        return self._gh_loader


def exchange(raw: RawConnection, statements: Sequence[Sendable]) -> None:
    """Send ``statements`` in one round trip and attach each one's result; raise the first
    statement's error (psycopg's class for it) after the server has answered them all."""
    pg = raw.pgconn
    pg.enter_pipeline_mode()
    try:
        prepares = [_send(raw, statement) for statement in statements]
        pg.pipeline_sync()
        _flush(pg)
        answers = _answers(pg)
        pg.exit_pipeline_mode()
    except BaseException:
        if pg.status == pq.ConnStatus.OK:  # the caller rolls back; a broken connection is dropped
            with contextlib.suppress(psycopg.Error):
                _answers(pg)
                pg.exit_pipeline_mode()
        raise
    loader, failure = raw.loader(), None
    for statement, prepared_now in zip(statements, prepares, strict=True):
        if prepared_now:
            answers.pop(0)  # the prepare's own answer (an error there shows in the statement's)
        result = answers.pop(0)
        if result.status == _ExecStatus.FATAL_ERROR:
            failure = failure or _error(result, raw)
            continue
        if result.status == _ExecStatus.PIPELINE_ABORTED:
            continue
        rows: list[Any] = []
        if result.status == _ExecStatus.TUPLES_OK and result.ntuples:
            loader.set_pgresult(result)
            rows = loader.load_rows(0, result.ntuples, tuple)
        statement.attach(result, rows)
    if failure is not None:
        raise failure


def _send(raw: RawConnection, statement: Sendable) -> bool:
    """Queue one statement; True when its prepare was queued before it."""
    pg = raw.pgconn
    sql, names = numbered(statement.sql)
    given = statement.parameters
    if not given:
        pg.send_query_params(sql.encode(), None, result_format=1)
        return False
    values = [given[name] for name in names] if names is not None else list(given)
    encoded, types, formats = zip(*(_parameter(value) for value in values), strict=True)
    prepared = raw.prepared()
    key = (sql, types)
    name = prepared.get(key)
    fresh = name is None and len(values) <= PARAMS_PREPARED_MAX and len(prepared) < PREPARED_MAX
    if fresh:
        name = prepared[key] = f"gh_{len(prepared)}".encode()
        pg.send_prepare(name, sql.encode(), param_types=types)
    if name is None:
        pg.send_query_params(sql.encode(), encoded, types, formats, result_format=1)
    else:
        pg.send_query_prepared(name, encoded, formats, result_format=1)
    return fresh


def _parameter(value: Any) -> tuple[bytes | None, int, int]:
    """(value as sent, its type's oid or 0 for the server to infer, 1 binary or 0 text)."""
    if value is None:
        return None, 0, 0
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), _BYTEA, 1
    if isinstance(value, bool):
        return (b"t" if value else b"f"), _BOOL, 0
    if isinstance(value, int):
        return str(int(value)).encode(), _INT8, 0
    if isinstance(value, str):
        return value.encode(), 0, 0
    raise TypeError(f"the shared store binds no {type(value).__name__}")


def _flush(pg: pq.abc.PGconn) -> None:
    while pg.flush() == 1:  # the socket is full: wait for room, reading what the server sends
        readable, _, _ = select.select([pg.socket], [pg.socket], [])
        if readable:
            pg.consume_input()


def _answers(pg: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """Every answer up to the pipeline's sync: one per statement sent (and per prepare)."""
    answers: list[pq.abc.PGresult] = []
    current: pq.abc.PGresult | None = None
    while True:
        while not pg.is_busy():
            result = pg.get_result()
            if result is None:  # the end of one statement's answer
                if current is not None:
                    answers.append(current)
                current = None
                continue
            if result.status == _ExecStatus.PIPELINE_SYNC:
                return answers
            current = result if current is None else current  # COPY aside, one result each
        select.select([pg.socket], [], [])
        pg.consume_input()


def _error(result: pq.abc.PGresult, raw: RawConnection) -> psycopg.Error:
    code = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"").decode(raw.info.encoding, "replace").strip()
    try:
        kind = pg_errors.lookup(code)
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(message)


@lru_cache(maxsize=1024)
def numbered(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """The row layer's SQL with PostgreSQL's ``$n`` placeholders: ``?`` in order, or ``:name``
    (the names in order of their numbers; None for ``?``)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    if "?" in sql:
        count = iter(range(1, sql.count("?") + 1))
        return re.sub(r"\?", lambda _: f"${next(count)}", sql), None
    return _NAMED.sub(number, sql), tuple(names)


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")  # sqlite's :name, not PostgreSQL's ::type
