"""A bytecode cache for the methods attrs generates while lsprotocol is imported.

``lsprotocol.types`` defines ~580 attrs classes, and attrs writes each class's methods as Python source
and compiles it at every import: ~0.18 s of the server's ~0.62 s from spawn to ``context/didRestore``
(attrs issue #575, lsprotocol issue #441). Python keeps a module's own bytecode in ``.pyc`` files; this
does the same for that generated code. While the server's modules are imported, the ``compile`` that
attrs' code generator calls first looks the source up in a marshal file in the (private) store directory.

Entries are keyed by a hash of the interpreter's bytecode magic number, the generated file name, the
compiler flags, the optimization level and the source, so another Python, attrs or lsprotocol simply
misses. A missing, damaged or foreign file, or an attrs that compiles elsewhere, falls back to plain
``compile``: the cache can make the start faster, never different.
"""

import __future__

import builtins
import contextlib
import hashlib
import importlib.util
import logging
import marshal
import os
import stat
import sys
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from groundhog.store.paths import FILE_MODE, ensure_private_dir

log = logging.getLogger(__name__)

CACHE_NAME = "attrs-bytecode.marshal"
# A few classes generate different source at every start (attrs puts hash(<random per process>) into
# some __hash__ methods): those always miss, and rewriting 1.3 MB at every start for them would cost
# more than compiling them.
MISSES_TOLERATED = 16
_HEADER = b"groundhog-attrs-cache|" + importlib.util.MAGIC_NUMBER


@contextlib.contextmanager
def attrs_bytecode_cache(store_dir: Path) -> Iterator[Counter[str]]:
    """Within this block, attrs' generated code is compiled through the cache in ``store_dir``;
    yields hit/miss counts."""
    counts: Counter[str] = Counter()
    try:
        import attr._make as generator
    except ImportError:  # an attrs without this module: nothing to speed up
        yield counts
        return
    if "compile" in vars(generator):  # someone else already shadows it: leave it alone
        yield counts
        return
    cache_file = store_dir / CACHE_NAME
    cache = _load(cache_file)
    fresh: dict[bytes, types.CodeType] = {}
    used: set[bytes] = set()
    flags = _future_flags(generator)

    def cached_compile(source: Any, filename: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not all(isinstance(x, str) for x in (source, filename, mode)):
            return builtins.compile(source, filename, mode, *args, **kwargs)
        head = b"%d|%d|%s|%s\0" % (flags, sys.flags.optimize, filename.encode(), mode.encode())
        digest = hashlib.sha256(head + source.encode()).digest()
        code = cache.get(digest)
        used.add(digest)
        if code is None:
            # what attrs' own compile() would produce: its module's __future__ flags, none of ours
            code = builtins.compile(source, filename, mode, flags, dont_inherit=True)
            fresh[digest] = code
            counts["miss"] += 1
        else:
            counts["hit"] += 1
        return code

    generator.compile = cached_compile  # type: ignore[attr-defined]
    try:
        yield counts
    finally:
        del generator.compile  # type: ignore[attr-defined]
    if len(fresh) > MISSES_TOLERATED:  # the file keeps exactly what this start used
        _save(cache_file, {digest: cache.get(digest) or fresh[digest] for digest in used})


def _future_flags(module: types.ModuleType) -> int:
    """The compiler flags of the ``from __future__`` imports of ``module`` (which compile() in it
    inherits)."""
    flags = 0
    for name in __future__.all_feature_names:
        feature = vars(module).get(name)
        if isinstance(feature, type(__future__.annotations)):
            flags |= int(getattr(feature, "compiler_flag", 0))
    return flags


def _load(path: Path) -> dict[bytes, types.CodeType]:
    """The cache, only from a regular file of ours in our private directory that nobody else may
    write: it holds code. Checked on the open descriptor, so the file cannot be swapped in between."""
    try:
        ensure_private_dir(path.parent)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o022:
                log.info("ignored a start-up cache that is not a private regular file")
                return {}
            data = handle.read()
        if not data.startswith(_HEADER):
            return {}
        loaded = marshal.loads(data[len(_HEADER) :])
    except FileNotFoundError:
        return {}
    except Exception:  # a damaged cache is only a slower start
        log.info("ignored an unreadable start-up cache")
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(k, bytes) and isinstance(v, types.CodeType)}


def _save(path: Path, cache: dict[bytes, types.CodeType]) -> None:
    """Write atomically (a concurrent start reads the old file or the new one, never half of one)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        ensure_private_dir(path.parent)
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_HEADER + marshal.dumps(cache))
        os.replace(temporary, path)
    except Exception as error:  # no cache is only a slower start
        log.info("could not write the start-up cache: %s", type(error).__name__)
        with contextlib.suppress(OSError):
            temporary.unlink()
