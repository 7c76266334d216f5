"""Where stores and keys live, and the file-system rules: directories 0700, files 0600, no symlinks.

Every directory or file we create is checked with ``lstat`` so a planted symlink is refused instead of
followed; files are created with ``O_NOFOLLOW | O_EXCL`` and an explicit mode, so umask cannot widen them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import platformdirs

from groundhog.errors import AccessDenied, PersistenceError

APP_NAME = "groundhog"
NO_WORKSPACE = "groundhog:no-workspace"
DIR_MODE = 0o700
FILE_MODE = 0o600


def default_store_dir() -> Path:
    """``GROUNDHOG_HOME`` if set, else the platform's user data dir."""
    env = os.environ.get("GROUNDHOG_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    """``GROUNDHOG_CONFIG_DIR`` if set, else the platform's user config dir (master key, tokens)."""
    env = os.environ.get("GROUNDHOG_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def canonical_root(root: str | os.PathLike[str] | None) -> str:
    """A stable text for a workspace root: a normalized ``file://`` URI, or the no-workspace scope."""
    if root is None or str(root) == "":
        return NO_WORKSPACE
    text = str(root)
    if text == NO_WORKSPACE:
        return text
    if "://" in text:
        parsed = urlparse(text)
        if parsed.scheme != "file":
            return text.rstrip("/")
        text = unquote(parsed.path)
    return "file://" + os.path.normpath(os.path.abspath(text))


def workspace_id_for(root: str | os.PathLike[str] | None) -> str:
    """The directory name of a workspace's store: a hash of its canonical root, never the path itself."""
    return hashlib.sha256(canonical_root(root).encode()).hexdigest()[:32]


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700 directories; refuse a symlink anywhere we create."""
    try:
        _ensure_private_dir(path)
    except OSError as error:  # e.g. a parent that is a plain file
        raise PersistenceError(f"The store directory cannot be created ({error.strerror}).") from None
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise PersistenceError("The store directory path is not a directory.")


def _ensure_private_dir(path: Path) -> None:
    missing: list[Path] = []
    probe = path
    while True:
        try:
            info = os.lstat(probe)
        except FileNotFoundError:
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
            continue
        if stat.S_ISLNK(info.st_mode) and probe in (path, *missing):
            raise AccessDenied("The store directory is a symbolic link; refusing to follow it.")
        break
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            pass
        except OSError as error:
            raise PersistenceError(f"The store directory cannot be created ({error.strerror}).") from None
    _check_not_symlink(path, "The store directory")
    if stat.S_IMODE(os.lstat(path).st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; refuse a symlink or a non-regular file."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as error:
        raise PersistenceError(f"The store file cannot be created ({error.strerror}).") from None
    _check_not_symlink(path, "The store file")
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise AccessDenied("The store file is not a regular file; refusing to open it.")
    if stat.S_IMODE(info.st_mode) != FILE_MODE:
        os.chmod(path, FILE_MODE)


def refuse_symlink(path: Path, what: str) -> None:
    """Raise AccessDenied if ``path`` exists and is a symbolic link."""
    with contextlib.suppress(FileNotFoundError):
        _check_not_symlink(path, what)


def _check_not_symlink(path: Path, what: str) -> None:
    if stat.S_ISLNK(os.lstat(path).st_mode):
        raise AccessDenied(f"{what} is a symbolic link; refusing to follow it.")


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
        return self.directory / "store.db"
