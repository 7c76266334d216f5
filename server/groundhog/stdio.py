"""The process's stdin and stdout as the stdio servers use them (``groundhog serve``, ``groundhog mcp``):
stdin as an asyncio stream, stdout as the wire only the server's writer touches."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
import threading


async def stdin_stream(limit: int) -> asyncio.StreamReader:
    """Stdin as a stream: pipes and sockets (what editors and agent hosts give) through the event
    loop; anything else (a file, /dev/null) cannot be polled, so a thread reads it. ``limit`` bounds
    ``readline`` only."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    else:
        threading.Thread(target=_pump, args=(loop, reader), name="groundhog-stdin", daemon=True).start()
    return reader


def _pump(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader) -> None:
    while chunk := os.read(sys.stdin.fileno(), 1 << 16):
        loop.call_soon_threadsafe(reader.feed_data, chunk)
    loop.call_soon_threadsafe(reader.feed_eof)


def claim_stdout() -> int:
    """A private descriptor for the wire, with fd 1 pointed at stderr: whatever else writes to
    stdout (a library's stray print, a child process) lands in the log, never inside a frame."""
    wire = os.dup(sys.stdout.fileno())
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return wire


class Wire:
    """Writes whole frames to the wire descriptor, in order, never two at once: a pipe through
    the event loop (a reader that stops reading holds up only the writer), else blocking writes
    from a thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self.closed = False

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        mode = os.fstat(self._fd).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            pipe = os.fdopen(self._fd, "wb", buffering=0, closefd=False)
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
            self._writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def write(self, frame: bytes) -> None:
        """Write one frame; a closed wire (the peer is gone) drops it."""
        async with self._lock:
            if self.closed:
                return
            try:
                if self._writer is not None:
                    self._writer.write(frame)
                    await self._writer.drain()
                else:
                    await asyncio.to_thread(_write_all, self._fd, frame)
            except (ConnectionError, OSError):
                self.closed = True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
