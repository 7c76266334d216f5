"""The command line itself (the commands' behaviour is tested end to end in tests/e2e)."""

from __future__ import annotations

import subprocess
import sys

from groundhog.cli import _parser


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
