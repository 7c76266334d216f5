"""Directories opened by descriptor: no directory the server creates or enters is checked by path and
then used by path, so another local user racing the start-up cannot redirect what it creates.

A path is walked from ``/`` one component at a time with ``open(O_DIRECTORY | O_NOFOLLOW)`` relative to
the directory before it, and each directory entered is checked on its descriptor before anything is
created in it: it must be root's or ours and, if every user may write it, sticky (as /tmp is; there no
one but the owner can rename or remove an entry). A missing component is made with ``mkdir`` relative
to that checked parent, then opened the same way and checked again (whoever made it first, it must be
ours). A symbolic link on the way is followed only above what we create and only if root or we own it;
where it leads is walked and checked the same way. The last directory must be ours and is made 0700.
Everything below it is then reached through its descriptor (``dir_fd=``): files are opened with
``O_NOFOLLOW`` and checked on the open descriptor (store/paths.py).

SQLite opens its file by path: it is given ``/proc/self/fd/<n>/<name>`` (``sqlite_path``), which it
resolves once to the checked directory's own path; every directory on that path is root's or ours and
closed to others, so nobody else can change what it names, and the store checks after connecting that
the file SQLite opened is the one its descriptor shows (store/sqlite.py).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from types import TracebackType

from groundhog.errors import AccessDenied, PersistenceError

log = logging.getLogger(__name__)
DIR_MODE = 0o700
_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_LINKS = 40  # as the kernel's own limit on links in one path
_ATTEMPTS = 50  # looks at a name that keeps changing before giving up on it
_PROC_FD = Path("/proc/self/fd")


class PrivateDir:
    """An open directory checked by ``open_private_dir``: everything below it goes through ``fd``."""

    def __init__(self, fd: int, path: Path, what: str) -> None:
        self.fd = fd
        self.path = path  # for messages, logs and people; never to reach the directory again
        self.what = what

    def __enter__(self) -> PrivateDir:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        """``os.open`` of ``name`` in this directory, never through a symbolic link."""
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)

    def reopen(self) -> int:
        """Another open description of this directory (its own ``flock`` lock)."""
        return os.open(".", _FLAGS, dir_fd=self.fd)

    def entry(self, name: str) -> os.stat_result | None:
        """``lstat`` of ``name`` in this directory; None when there is none."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        fd = self.reopen()
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def subdir(self, name: str, what: str) -> PrivateDir:
        """The subdirectory ``name``, made 0700 if missing, checked to be ours, never a link."""
        return _enter(self.fd, self.path / name, [name], what, create=True, own=True, links=False)

    def sqlite_path(self, name: str) -> str:
        """The path SQLite opens ``name`` by: through this directory's descriptor where the system
        has ``/proc/self/fd``, else its path."""
        if _PROC_FD.is_dir():
            return f"{_PROC_FD}/{self.fd}/{name}"
        return str(self.path / name)


def open_private_dir(
    path: str | os.PathLike[str], what: str = "The store directory", *, create: bool = True
) -> PrivateDir:
    """Open (making what is missing, unless ``create`` is false) the directory ``path`` by
    descriptor, checking every directory on the way (see the module docstring)."""
    return _from_root(path, what, create=create, own=True)


def open_shared_dir(path: str | os.PathLike[str], what: str) -> PrivateDir:
    """Open an existing directory chosen by the user for a file of ours (the log's) by descriptor,
    under the same checks on the way, without making it ours: root's or ours, closed to others
    unless sticky; its mode is left as it is."""
    return _from_root(path, what, create=False, own=False)


def _from_root(path: str | os.PathLike[str], what: str, *, create: bool, own: bool) -> PrivateDir:
    target = Path(os.path.abspath(path))
    root = os.open("/", _FLAGS)
    try:
        _check(root, Path("/"), what, last=False)
        return _enter(root, target, list(target.parts[1:]), what, create=create, own=own, links=True)
    finally:
        os.close(root)


def _enter(
    start: int, target: Path, parts: list[str], what: str, *, create: bool, own: bool, links: bool
) -> PrivateDir:
    """Walk ``parts`` from the directory ``start`` (which stays open for the caller)."""
    fd = os.dup(start)
    made = False  # from here on, every directory was made by us: no link is followed
    hops = 0
    try:
        while parts:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            last = not parts
            try:
                child, created = _child(fd, name, what, create, last)
            except _Link:
                if not links or made or last:
                    log.warning("refused %s: %s is a symbolic link", target, name)
                    raise AccessDenied(f"{what} is a symbolic link; refusing to follow it.") from None
                hops += 1
                if hops > _MAX_LINKS:
                    raise PersistenceError(f"{what} cannot be opened (too many symbolic links).") from None
                link = os.readlink(name, dir_fd=fd)
                if link.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _FLAGS)
                parts = [*Path(link).parts[1 if link.startswith("/") else 0 :], *parts]
                continue
            os.close(fd)
            fd = child
            made = made or created
            _check(fd, target, what, last=last and own, made=made)
        if own:
            info = os.fstat(fd)
            if stat.S_IMODE(info.st_mode) != DIR_MODE:
                os.fchmod(fd, DIR_MODE)  # ours: tighten it (files inside are checked one by one)
        return PrivateDir(fd, target, what)
    except BaseException:
        os.close(fd)
        raise


class _Link(Exception):
    """The component is a symbolic link (the caller decides whether to follow it)."""


def _child(fd: int, name: str, what: str, create: bool, last: bool) -> tuple[int, bool]:
    """The directory ``name`` below ``fd``, opened (made first if missing and ``create``); whether
    this call made it."""
    created = False
    for _attempt in range(_ATTEMPTS):  # another user may be swapping the name under us: look again
        try:
            return os.open(name, _FLAGS | os.O_NOFOLLOW, dir_fd=fd), created
        except FileNotFoundError:
            if not create:
                raise PersistenceError(f"{what} does not exist.") from None
            try:
                os.mkdir(name, DIR_MODE, dir_fd=fd)  # in a parent checked already
                os.chmod(name, DIR_MODE, dir_fd=fd)  # a narrow umask must not lock us out
                created = True
            except FileExistsError:
                continue  # made meanwhile by someone: open it and check whose it is
            except OSError as error:
                raise PersistenceError(f"{what} cannot be created ({error.strerror}).") from None
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise PersistenceError(f"{what} cannot be opened ({error.strerror}).") from None
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone meanwhile
            if stat.S_ISDIR(info.st_mode):
                continue  # a directory again meanwhile
            if not stat.S_ISLNK(info.st_mode) and last:
                raise PersistenceError(f"{what} path is not a directory.") from None
            if not stat.S_ISLNK(info.st_mode):
                raise PersistenceError(f"{what} cannot be created (a file is in the way).") from None
            if info.st_uid not in (0, os.geteuid()):
                log.warning(
                    "refused a symbolic link of uid %d on the way to a private directory", info.st_uid
                )
                raise AccessDenied(
                    f"{what} is inside a directory of another user; refusing to use it."
                ) from None
            raise _Link() from None
    raise PersistenceError(f"{what} cannot be created (it keeps changing).")


def _check(fd: int, target: Path, what: str, *, last: bool, made: bool = False) -> None:
    """The rules of a directory entered: ours (the last one, and those we made) or root's, and
    closed to others unless sticky."""
    info = os.fstat(fd)
    me = os.geteuid()
    if (last or made) and info.st_uid != me:
        log.warning("refused %s: a directory of it belongs to uid %d, not %d", target, info.st_uid, me)
        raise AccessDenied(f"{what} belongs to another user; refusing to use it (see the server log).")
    if info.st_uid not in (0, me):
        log.warning("refused %s: a directory above it belongs to uid %d", target, info.st_uid)
        raise AccessDenied(f"{what} is inside a directory of another user; refusing to use it.")
    if not last and info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        log.warning("refused %s: a directory above it is writable by every user and not sticky", target)
        raise AccessDenied(
            f"{what} is inside a directory every user may write (and not sticky); refusing to use it."
        )
