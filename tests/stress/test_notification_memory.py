"""An editing day in miniature: tens of thousands of keystroke and cursor notifications into one
server process. Its memory must stay flat once warm (pygls used to keep a future per notification:
+2.8 KB per didChange, +0.9 KB per didChangeEditor). Not a timed test: it measures bytes."""

from __future__ import annotations

import psutil
import pytest

from tests.e2e.harness import Env
from tests.e2e.test_wire import RawServer

WARM_UP = 5_000
MEASURED = 20_000
ALLOWED_GROWTH_MB = 4.0


@pytest.mark.slow
async def test_memory_stays_flat_over_twenty_thousand_notifications(tmp_path: object) -> None:
    env = Env.make(tmp_path)  # type: ignore[arg-type]
    server = await RawServer.start(env)
    try:
        assert "result" in await server.initialize(env)
        uri = (env.workspace / "a.py").as_uri()
        server.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": ""}},
            }
        )

        async def type_for(count: int, start: int) -> None:
            for n in range(start, start + count):
                if n % 2:
                    cursor = {
                        "start": {"line": n % 80, "character": 1},
                        "end": {"line": n % 80, "character": 1},
                    }
                    params = {"activeUri": uri, "selections": [{"uri": uri, "ranges": [cursor]}]}
                    server.send({"jsonrpc": "2.0", "method": "context/didChangeEditor", "params": params})
                else:
                    change = {
                        "textDocument": {"uri": uri, "version": n},
                        "contentChanges": [{"text": f"x{n}"}],
                    }
                    server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})
            await server.writer.drain()
            assert "result" in await server.call("context/status", {})  # all of them handled

        rss = psutil.Process(server.process.pid)
        await type_for(WARM_UP, 1)
        before = rss.memory_info().rss / 2**20
        await type_for(MEASURED, WARM_UP + 1)
        after = rss.memory_info().rss / 2**20
        print(f"RSS {before:.1f} -> {after:.1f} MB")
        assert after - before < ALLOWED_GROWTH_MB, f"RSS {before:.1f} -> {after:.1f} MB"
    finally:
        server.kill()
        await server.process.wait()
