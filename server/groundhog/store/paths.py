"""Where stores and keys live, and the file-system rules: directories 0700, files 0600, no symlinks,
nothing of another user's.

Directories are opened by descriptor (store/dirs.py) and what is below them reached through it; files
are created with ``O_NOFOLLOW | O_EXCL`` and an explicit mode, so umask cannot widen them.
What we open is checked on the open descriptor: it must be ours (a file another local user planted
under a shared directory such as /tmp would otherwise be trusted, even by root) and, for files, not
writable by others (its content could have been replaced). Every ancestor directory must belong to
root or to us and, if every user may write it, be sticky (as /tmp is), so nobody can swap our
directories under us. Refusals name the role of the file; the server's log names its path.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from groundhog.errors import AccessDenied, PersistenceError
from groundhog.store.dirs import DIR_MODE as DIRS_MODE
from groundhog.store.dirs import PrivateDir, open_private_dir
from groundhog.userconfig import default_store_dir
from groundhog.workspace import canonical_root, workspace_id_for

log = logging.getLogger(__name__)
DIR_MODE = DIRS_MODE
FILE_MODE = 0o600
DATABASE_FILE = "store.db"  # a workspace's SQLite file, in its directory


def ensure_private_dir(path: Path, what: str = "The store directory") -> None:
    """Make ``path`` (and missing parents) 0700 directories of ours, by descriptor (store/dirs.py);
    callers that then work inside it use ``open_private_dir`` and its descriptor instead."""
    open_private_dir(path, what).close()


def check_ancestors(path: Path, what: str) -> None:
    """Refuse ``path`` if a directory above it belongs to another user (not root), or if every user
    may write it and it is not sticky: either could rename our directory away and plant another."""
    found = unsafe_ancestor(path)
    if found is None:
        return
    parent, info, reason = found
    if reason == "foreign":
        log.warning("refused %s: %s belongs to uid %d", path, parent, info.st_uid)
        raise AccessDenied(f"{what} is inside a directory of another user; refusing to use it.")
    log.warning("refused %s: %s is writable by every user and not sticky", path, parent)
    raise AccessDenied(
        f"{what} is inside a directory every user may write (and not sticky); refusing to use it."
    )


def unsafe_ancestor(path: Path) -> tuple[Path, os.stat_result, str] | None:
    """The first directory above ``path`` that makes it unsafe, with why: ``"foreign"`` (another
    user's, not root's) or ``"open"`` (every user may write it and it is not sticky). The one rule
    behind ``check_ancestors`` and ``groundhog doctor``'s advice."""
    me = os.geteuid()
    for parent in Path(os.path.abspath(path)).parents:
        try:
            info = os.stat(parent)
        except OSError:
            continue
        if info.st_uid not in (0, me):
            return parent, info, "foreign"
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            return parent, info, "open"
    return None


def check_private_file(fd: int, path: Path, what: str, *, rotate: str | None = None) -> None:
    """The open file ``fd`` must be a regular file of ours that no other user may write (then it is
    made 0600): its content is trusted (a key, a token, the store). ``rotate`` marks a secret (a key,
    a token): one other users may read or write is refused, never quietly tightened (the refusal
    says how to replace it, ``rotate``: it may have been copied), as OpenSSH refuses such a key."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise AccessDenied(f"{what} is not a regular file; refusing to open it.")
    _refuse_foreign(info, path, what)
    mode = stat.S_IMODE(info.st_mode)
    problem = secret_problem(mode) if rotate is not None else None
    if problem is not None:
        log.warning("refused %s: %s by other users (mode %o)", path, problem, mode)
        raise AccessDenied(
            f"{what} is {problem} by other users (mode {mode:04o}), so it may have been copied: "
            f"rotate it ({rotate})."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("refused %s: writable by other users (mode %o)", path, mode)
        raise AccessDenied(f"{what} is writable by other users; refusing to trust it (see the server log).")
    if mode != FILE_MODE:
        os.fchmod(fd, FILE_MODE)


def secret_problem(mode: int) -> str | None:
    """What is wrong with a secret file's ``mode`` (None: only its owner may use it): the rule the
    server applies to keys and tokens and ``groundhog doctor`` reports."""
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable"
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return "readable"
    return None


def _refuse_foreign(info: os.stat_result, path: Path, what: str) -> None:
    if info.st_uid != os.geteuid():
        log.warning("refused %s: it belongs to uid %d, not %d", path, info.st_uid, os.geteuid())
        raise AccessDenied(f"{what} belongs to another user; refusing to use it (see the server log).")


def create_private_file(directory: PrivateDir, name: str, what: str = "The store file") -> None:
    """Create ``name`` in ``directory`` empty with mode 0600 unless it exists (never through a
    symlink: refused). Its owner and mode are checked by whoever opens it, on that descriptor."""
    try:
        os.close(directory.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        pass
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AccessDenied(f"{what} is a symbolic link; refusing to follow it.") from None
        raise PersistenceError(f"{what} cannot be created ({error.strerror}).") from None


@dataclass(frozen=True)
class StoreLocation:
    """Where one workspace's store lives."""

    store_dir: Path
    workspace_root: str
    workspace_id: str

    @classmethod
    def for_root(
        cls, root: str | os.PathLike[str] | None, store_dir: str | os.PathLike[str] | None = None
    ) -> StoreLocation:
        base = Path(store_dir) if store_dir is not None else default_store_dir()
        return cls(base, canonical_root(root), workspace_id_for(root))

    @property
    def directory(self) -> Path:
        return self.store_dir / "workspaces" / self.workspace_id

    @property
    def database(self) -> Path:
        return self.directory / DATABASE_FILE
