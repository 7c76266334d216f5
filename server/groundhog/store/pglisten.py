"""The shared store's notifications: one connection per process LISTENing on the workspace's channel,
reconnecting with backoff; readers catch up from their feed cursor after every (re)connection."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from groundhog.store.background import BackgroundThread
from groundhog.store.pgdatabase import CONNECT_TIMEOUT_S, KEEPALIVES

log = logging.getLogger(__name__)
RECONNECT_MAX_S = 5.0


class Listener(BackgroundThread):
    """One connection per process LISTENing on the workspace's channel. ``version`` grows on every
    notification and after every (re)connection, when readers must catch up from their cursor."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__("groundhog-pg-listen")
        self._url, self._channel = url, channel
        self.version = 0
        self.callbacks: list[Callable[[], None]] = []
        self.ready = threading.Event()

    def _bump(self) -> None:
        self.version += 1
        for callback in list(self.callbacks):
            try:
                callback()
            except Exception:
                log.exception("a change listener failed")

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    application_name="groundhog-listen",
                    **KEEPALIVES,
                ) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    if backoff > 0.1:
                        log.info("reconnected to the shared store; catching up")
                    backoff = 0.1
                    self._bump()  # listening now: whatever committed before is read from the cursor
                    self.ready.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._bump()
            except psycopg.Error as error:
                self.ready.set()  # readers go on (and fail with their own clear error meanwhile)
                log.warning(
                    "lost the shared store's notifications (%s); reconnecting in %.1f s",
                    error.__class__.__name__,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)
