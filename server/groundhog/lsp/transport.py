"""Transports: stdio (what editors launch), TCP and WebSocket on loopback.

One reader for all stream transports: it reads LSP frames, refuses a ``Content-Length`` over the
limit before reading the body (the connection closes and a stdio server exits non-zero, saying why on
stderr), and hands each body to the protocol, which parses it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, BinaryIO

from groundhog.lsp.server import GroundhogServer
from groundhog.stdio import stdin_stream

log = logging.getLogger(__name__)
MAX_HEADER_LINE = 8192
# Network transports, before a connection is authenticated (its `initialize` brought the token):
PRE_AUTH_MAX_BYTES = 256 * 1024  # an initialize is a few KB; nobody gets to make us buffer 64 MiB
PRE_AUTH_TIMEOUT_S = 10.0  # authenticate within this, or the connection is closed
MAX_PENDING = 32  # unauthenticated connections at once; a new one closes the oldest
MAX_CONNECTIONS = 256  # all connections at once; beyond, a new one is closed at once


class MessageTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a message of {size} bytes exceeds the limit of {limit} bytes")


async def read_frames(
    reader: asyncio.StreamReader, handle: Callable[[bytes], None], limit: Callable[[], int]
) -> None:
    """Read frames until EOF; raise MessageTooLarge without reading an oversized body (the limit
    is asked per frame: it grows once a network connection is authenticated)."""
    while True:
        length: int | None = None
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than the reader's buffer: asyncio dropped it, we skip it
                log.warning("skipped an over-long header line")
                continue
            if not line:
                return
            if len(line) > MAX_HEADER_LINE:
                log.warning("skipped an over-long header line")
                continue
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    log.warning("skipped a frame with a malformed Content-Length")
        if length is None or length < 0:
            log.warning("skipped a frame without a usable Content-Length")
            continue
        if length > (max_bytes := limit()):
            raise MessageTooLarge(length, max_bytes)
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return
        handle(body)


class _StdoutWriter:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()


class _StreamWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


def serve_stdio(make_server: Callable[[], GroundhogServer], max_bytes: int) -> int:
    """Serve one session over stdin/stdout; return the process exit code."""

    async def main() -> int:
        server = make_server()
        server.exit_code = asyncio.get_running_loop().create_future()
        server.protocol.set_writer(_StdoutWriter(sys.stdout.buffer))
        reader = await stdin_stream(MAX_HEADER_LINE * 2)
        reading = asyncio.ensure_future(read_frames(reader, server.protocol.handle_frame, lambda: max_bytes))

        async def on_signal() -> None:  # as at EOF: answer what was received, persist, end the session
            await _drain(server)
            await server.stop(0)

        _stop_on_signals(on_signal)
        exit_code = server.exit_code
        waiters: list[asyncio.Future[Any]] = [reading, exit_code]
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if reading in done:
            error = reading.exception()
            if isinstance(error, MessageTooLarge):
                print(f"groundhog: {error}; closing the connection.", file=sys.stderr)
                await server.close_session()
                return 1
            if error is not None:
                raise error
            await _drain(server)  # stdin EOF: the client is gone; answer what it already sent
            await server.stop(0)
        return await exit_code

    return asyncio.run(main())


def _stop_on_signals(stop: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """SIGTERM, SIGHUP and SIGINT end the server the way a closed stdin does (editors use all
    three); a second signal exits at once, without waiting."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_signal(signum: int) -> None:
        if stopping:
            os._exit(1)
        log.info("signal %d: ending the session", signum)
        stopping.append(loop.create_task(stop()))

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def _drain(server: GroundhogServer, timeout_s: float = 5.0) -> None:
    """Let requests already received finish (bounded), so their answers go out before exit."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    pending = server.protocol._request_futures
    while any(not f.done() for f in pending.values()) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


class Gate:
    """Admission for network connections: at most MAX_CONNECTIONS at once, at most MAX_PENDING not
    yet authenticated (a new one closes the oldest of those, so a flood of idle or slow peers can
    never keep an editor with the token out), and each must authenticate within PRE_AUTH_TIMEOUT_S."""

    def __init__(self, auth_timeout_s: float = PRE_AUTH_TIMEOUT_S) -> None:
        self.auth_timeout_s = auth_timeout_s
        self.open: set[GroundhogServer] = set()
        self._pending: dict[GroundhogServer, Callable[[], Any]] = {}  # insertion order: oldest first

    def admit(self, server: GroundhogServer, close: Callable[[], Any]) -> bool:
        if len(self.open) >= MAX_CONNECTIONS:
            log.warning("refused a connection: %d are open", len(self.open))
            return False
        for other in [s for s in self._pending if s.authenticated]:
            del self._pending[other]
        while len(self._pending) >= MAX_PENDING:
            oldest, close_oldest = next(iter(self._pending.items()))
            del self._pending[oldest]
            log.warning("closed the oldest unauthenticated connection to admit a new one")
            close_oldest()
        self.open.add(server)
        self._pending[server] = close
        asyncio.get_running_loop().call_later(self.auth_timeout_s, self._expire, server)
        return True

    def _expire(self, server: GroundhogServer) -> None:
        close = self._pending.pop(server, None)
        if close is not None and not server.authenticated:
            log.warning("closed a connection that did not authenticate in %.1f s", self.auth_timeout_s)
            close()

    def release(self, server: GroundhogServer) -> None:
        self.open.discard(server)
        self._pending.pop(server, None)

    def limit(self, server: GroundhogServer, max_bytes: int) -> int:
        return max_bytes if server.authenticated else min(max_bytes, PRE_AUTH_MAX_BYTES)


async def _serve_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    make_server: Callable[[], GroundhogServer],
    max_bytes: int,
    gate: Gate,
) -> None:
    server = make_server()
    if not gate.admit(server, writer.close):
        writer.close()
        return
    server.exit_code = asyncio.get_running_loop().create_future()
    server.protocol.set_writer(_StreamWriter(writer))
    try:
        await read_frames(reader, server.protocol.handle_frame, lambda: gate.limit(server, max_bytes))
    except MessageTooLarge as error:
        log.warning("closed a connection: %s", error)
    except (ConnectionError, OSError):
        pass  # closed under us (by the gate, or the peer reset it)
    finally:
        gate.release(server)
        await server.close_session()
        writer.close()


def serve_tcp(
    make_server: Callable[[], GroundhogServer], host: str, port: int, max_bytes: int, auth_timeout_s: float
) -> int:
    async def main() -> int:
        gate = Gate(auth_timeout_s)
        listener = await asyncio.start_server(
            lambda r, w: _serve_stream(r, w, make_server, max_bytes, gate), host, port
        )
        stopped = asyncio.Event()
        _stop_on_signals(lambda: _close_all(gate.open, listener, stopped))
        addresses = ", ".join(str(s.getsockname()) for s in listener.sockets)
        log.info("serving on %s", addresses)
        print(f"groundhog: listening on {addresses}", file=sys.stderr, flush=True)
        async with listener:
            await _serve_until(listener, stopped)
        return 0

    return _run_forever(main)


def serve_ws(
    make_server: Callable[[], GroundhogServer], host: str, port: int, max_bytes: int, auth_timeout_s: float
) -> int:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    gate = Gate(auth_timeout_s)

    async def connection(websocket: ServerConnection) -> None:
        server = make_server()
        if not gate.admit(server, lambda: asyncio.ensure_future(websocket.close())):
            await websocket.close()
            return
        server.exit_code = asyncio.get_running_loop().create_future()
        server.protocol.set_writer(_WebSocketWriter(websocket), include_headers=False)
        try:
            async for message in websocket:
                server.protocol.handle_frame(message if isinstance(message, bytes) else message.encode())
                if server.authenticated:  # from now on the editor may send up to --max-message-bytes
                    websocket.protocol.max_message_size = max_bytes
        except ConnectionClosed:
            pass
        finally:
            gate.release(server)
            await server.close_session()

    async def main() -> int:
        pre_auth = min(max_bytes, PRE_AUTH_MAX_BYTES)
        stopped = asyncio.Event()
        async with serve(connection, host, port, max_size=pre_auth, max_queue=4) as listener:
            _stop_on_signals(lambda: _close_all(gate.open, listener, stopped))
            addresses = ", ".join(str(s.getsockname()) for s in listener.sockets)
            print(f"groundhog: listening on ws {addresses}", file=sys.stderr, flush=True)
            await _serve_until(listener, stopped)
        return 0

    return _run_forever(main)


async def _close_all(servers: set[GroundhogServer], listener: Any, stopped: asyncio.Event) -> None:
    """End every connection's session (editor state persisted, session rows removed), then stop."""
    listener.close()
    for server in list(servers):
        await server.close_session()
    stopped.set()


async def _serve_until(listener: Any, stopped: asyncio.Event) -> None:
    """Serve until the signal handler has closed every session (``stopped``): closing the listener
    first ends ``serve_forever``, and returning then would cancel that work half-way."""
    serving = asyncio.ensure_future(listener.serve_forever())
    await stopped.wait()
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


class _WebSocketWriter:
    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket

    def write(self, data: bytes) -> Any:
        return self._websocket.send(data.decode())

    def close(self) -> Any:
        return self._websocket.close()


def _run_forever(main: Callable[[], Any]) -> int:
    try:
        return int(asyncio.run(main()))
    except KeyboardInterrupt:
        return 0
