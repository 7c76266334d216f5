"""The command line itself (the commands' behaviour is tested end to end in tests/e2e)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from groundhog.cli import _parser
from groundhog.flags import given
from groundhog.settings import DEFAULTS


def test_serve_accepts_stdio_flag_that_language_clients_append() -> None:
    args = _parser().parse_args(["serve", "--stdio"])
    assert args.stdio is True and args.tcp is None and args.ws is None


def test_serve_refuses_two_transports() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "groundhog", "serve", "--stdio", "--tcp", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr
    assert done.stdout == ""


def test_mcp_takes_the_editors_size_and_history_limits() -> None:
    args = _parser().parse_args(["mcp", "--snapshot-max-bytes", "67108864", "--history-limit", "10"])
    assert given(args, "mcp") == {"snapshot_max_bytes": 64 * 1024 * 1024, "history_limit": 10}
    defaults = _parser().parse_args(["mcp"])
    assert given(defaults, "mcp") == {}  # not given: the configuration file or the defaults decide
    assert (DEFAULTS.snapshot_max_bytes, DEFAULTS.history_limit) == (1024 * 1024, 1000)


def test_mcp_refuses_limits_out_of_range_naming_the_flag() -> None:
    for flag, value in (("--snapshot-max-bytes", "1x"), ("--history-limit", "0")):
        done = subprocess.run(
            [sys.executable, "-m", "groundhog", "mcp", flag, value],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2
        assert f"argument {flag}: must be an integer from" in done.stderr
        assert done.stdout == ""


def test_serve_and_mcp_keep_large_buffers_on_the_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both long-running processes set the allocator up before serving (groundhog/memory.py)."""
    import groundhog.lsp.transport
    import groundhog.mcp.server
    import groundhog.memory

    calls: list[str] = []
    monkeypatch.setattr(groundhog.memory, "keep_large_buffers_on_the_heap", lambda: calls.append("tuned"))
    monkeypatch.setattr(groundhog.lsp.transport, "serve_stdio", lambda *a: calls.append("serve") or 0)
    monkeypatch.setattr(groundhog.mcp.server, "serve", lambda settings: calls.append("mcp") or 0)
    parser = _parser()
    for argv in (["serve"], ["mcp"]):
        args = parser.parse_args(argv)
        assert args.run(args) == 0
    assert calls == ["tuned", "serve", "tuned", "mcp"]
