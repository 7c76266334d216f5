"""The start-up bytecode cache for attrs-generated code (groundhog/lsp/startup.py): a warm cache is
used, and the classes it builds are exactly those a plain import builds; a damaged or planted cache
file only costs a slower start. Each import runs in a fresh interpreter, as a server start does."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from groundhog.lsp.startup import CACHE_NAME

# Imports lsprotocol (through the cache unless PLAIN) and prints the hit/miss counts and a fingerprint
# of every generated method: bytecode, names, constants, flags, file name and annotations.
PROBE = r"""
import hashlib, json, sys, types as pytypes
from pathlib import Path

def shape(code):
    consts = tuple(shape(c) if isinstance(c, pytypes.CodeType) else repr(c) for c in code.co_consts)
    return (code.co_code, code.co_names, code.co_varnames, consts, code.co_flags, code.co_filename,
            code.co_qualname, code.co_argcount, code.co_kwonlyargcount)

counts = {}
if sys.argv[1] == "PLAIN":
    from lsprotocol import types
else:
    from groundhog.lsp.startup import attrs_bytecode_cache
    with attrs_bytecode_cache(Path(sys.argv[1])) as counted:
        from lsprotocol import types
        if len(sys.argv) > 2:  # everything the server imports
            import groundhog.lsp.transport
    counts = dict(counted)
digest = hashlib.sha256()
generated = 0
for name in sorted(vars(types)):
    cls = getattr(types, name)
    if not hasattr(cls, "__attrs_attrs__"):
        continue
    for method in ("__init__", "__eq__", "__repr__", "__setattr__", "__hash__", "__ne__"):
        function = vars(cls).get(method)
        if isinstance(function, pytypes.FunctionType):
            generated += 1
            digest.update(repr((name, method, shape(function.__code__),
                                sorted(map(repr, function.__annotations__.items())))).encode())
position = types.Position(line=1, character=2)
assert position == types.Position(1, 2) and position != types.Position(1, 3)
params = types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=7)
assert params.process_id == 7 and params.root_uri is None
assert params != types.InitializeParams(types.ClientCapabilities())
print(json.dumps({"counts": counts, "fingerprint": digest.hexdigest(), "generated": generated}))
"""


def _probe(target: str | Path, *, server: bool = False) -> dict[str, Any]:
    argv = [sys.executable, "-c", PROBE, str(target)] + (["server"] if server else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_warm_cache_builds_exactly_the_classes_a_plain_import_builds(tmp_path: Path) -> None:
    plain = _probe("PLAIN")
    cold = _probe(tmp_path)
    warm = _probe(tmp_path)

    assert plain["generated"] > 500  # lsprotocol's classes really went through attrs' generator
    assert cold["counts"].get("miss", 0) > 0 and cold["counts"].get("hit", 0) == 0
    assert warm["counts"].get("miss", 0) == 0 and warm["counts"]["hit"] == cold["counts"]["miss"]
    assert plain["fingerprint"] == cold["fingerprint"] == warm["fingerprint"]
    mode = (tmp_path / CACHE_NAME).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / CACHE_NAME
    good = _probe(tmp_path)
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2] + b"\x00garbage")

    damaged = _probe(tmp_path)
    assert damaged["counts"]["miss"] == good["counts"]["miss"]
    assert damaged["fingerprint"] == good["fingerprint"]
    assert _probe(tmp_path)["counts"].get("miss", 0) == 0  # rewritten whole


def test_a_cache_path_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"not ours")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    os.symlink(elsewhere, store / CACHE_NAME)

    result = _probe(store)
    assert result["counts"]["miss"] > 0  # the planted file was not read as a cache
    assert elsewhere.read_bytes() == b"not ours"  # nor written through


def test_a_warm_start_leaves_the_cache_file_alone(tmp_path: Path) -> None:
    """Some classes generate new source at every start (a per-process hash seed in their __hash__),
    so a server start always misses a little; rewriting 1.3 MB for that at every start would eat the
    gain and grow the file without bound."""
    cold = _probe(tmp_path, server=True)
    before = (tmp_path / CACHE_NAME).read_bytes()
    for _ in range(2):
        warm = _probe(tmp_path, server=True)
        assert 0 < warm["counts"].get("miss", 0) < cold["counts"]["miss"] // 10
    assert (tmp_path / CACHE_NAME).read_bytes() == before


def test_a_cache_others_could_write_is_not_loaded(tmp_path: Path) -> None:
    """The file holds code that the server runs: a group- or world-writable one is ignored."""
    cold = _probe(tmp_path)
    (tmp_path / CACHE_NAME).chmod(0o666)
    assert _probe(tmp_path)["counts"]["miss"] == cold["counts"]["miss"]


def test_a_fifo_in_place_of_the_cache_does_not_hang_the_start(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / CACHE_NAME, 0o600)
    assert _probe(tmp_path)["counts"]["miss"] > 0  # no writer on the FIFO: a blocking open would hang
