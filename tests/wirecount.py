"""A loopback TCP relay in front of a PostgreSQL server that counts round trips as the wire sees
them: one begins each time the client sends after the server said it is ready for a query (its
ReadyForQuery message, which ends every exchange), or first. A message sent while answers are
still coming (psycopg's flush request in pipeline mode) makes no new round trip: it waits for
nothing. The store's own count (``PostgresStore.exchanges``) is checked against it."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class WireCounter:
    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.round_trips = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, url: str) -> str:
        """``url`` (of the server behind) pointed at this relay."""
        head, _, rest = url.partition("@")
        _hostport, _, database = rest.partition("/")
        # no TLS or GSSAPI negotiation: the server's answers are framed messages from the start
        return f"{head}@127.0.0.1:{self.port}/{database}?sslmode=disable&gssencmode=disable"

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            server = socket.create_connection(self._target)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        ready = True  # the server is waiting for the client: its next bytes begin a round trip
        pending = b""  # the server's bytes not yet framed into whole messages
        with selectors.DefaultSelector() as selector, client, server:
            selector.register(client, selectors.EVENT_READ, server)
            selector.register(server, selectors.EVENT_READ, client)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.2):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(1 << 16)
                    if not data:
                        return
                    if source is client and ready:
                        with self._lock:
                            self.round_trips += 1
                        ready = False
                    elif source is server:
                        pending += data
                        while len(pending) >= 5 and len(pending) >= 1 + int.from_bytes(pending[1:5], "big"):
                            ready = ready or pending[0] == ord("Z")
                            pending = pending[1 + int.from_bytes(pending[1:5], "big") :]
                    key.data.sendall(data)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=2)
