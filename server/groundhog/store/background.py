"""A store's background thread (WAL checkpoints, the shared store's NOTIFY listener): a daemon that
runs ``_run`` until ``stop`` sets ``_stop``, which ``_run`` watches between its rounds."""

from __future__ import annotations

import threading

STOP_WAIT_S = 5


class BackgroundThread:
    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT_S)

    def _run(self) -> None:
        raise NotImplementedError
