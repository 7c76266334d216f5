"""The files a process needs besides the store: the network transports' token and the log file,
both under the rules of store/paths.py (ours, private, never through a symlink)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from groundhog.errors import ContextError, PersistenceError
from groundhog.store.dirs import open_private_dir, open_shared_dir
from groundhog.store.paths import FILE_MODE, check_private_file
from groundhog.userconfig import default_config_dir

TOKEN_FILE = "token"
# a token others could read is refused (paths.check_private_file): how to replace it
ROTATE_TOKEN = "delete it and restart the server for a new one, then give that to your clients"


def transport_token() -> str:
    """The token TCP/WebSocket clients must send: GROUNDHOG_TOKEN, else a 0600 file under the user
    config dir (opened by descriptor, store/dirs.py), generated on first use."""
    env = os.environ.get("GROUNDHOG_TOKEN")
    if env:
        return env
    with open_private_dir(default_config_dir(), "The config directory") as directory:
        path = directory.path / TOKEN_FILE
        if directory.entry(TOKEN_FILE) is None:
            with contextlib.suppress(FileExistsError):  # another process made it first: read theirs
                with os.fdopen(
                    directory.open(TOKEN_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE), "w"
                ) as out:
                    out.write(secrets.token_urlsafe(32) + "\n")
                print(f"groundhog: generated a transport token in {path}", file=sys.stderr)
        try:
            fd = directory.open(TOKEN_FILE, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            raise PersistenceError(f"The transport token file cannot be read ({error.strerror}).") from None
    with os.fdopen(fd, "r") as handle:
        check_private_file(handle.fileno(), path, "The transport token file", rotate=ROTATE_TOKEN)
        token = handle.read().strip()
    if not token:
        raise PersistenceError("The transport token file is empty.")
    return token


def open_log_file(path: Path) -> TextIO:
    """The log file, appended to: created 0600 in a directory opened by descriptor (root's or ours,
    closed to others unless sticky: store/dirs.py), never through a symlink, refused if it is not
    ours or others may write it (logs name paths and errors)."""
    with open_shared_dir(Path(os.path.abspath(path)).parent, "The log file's directory") as directory:
        try:
            fd = directory.open(
                Path(path).name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK, FILE_MODE
            )
        except OSError as error:
            raise PersistenceError(f"The log file cannot be opened ({error.strerror}).") from None
    try:
        check_private_file(fd, path, "The log file")
    except ContextError:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")
