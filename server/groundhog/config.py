"""The files a process needs besides the store: the network transports' token and the log file,
both under the rules of store/paths.py (ours, private, never through a symlink)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from groundhog.errors import ContextError, PersistenceError
from groundhog.store.paths import FILE_MODE, check_private_file, ensure_private_dir
from groundhog.workspace import default_config_dir

TOKEN_FILE = "token"
# a token others could read is refused (paths.check_private_file): how to replace it
ROTATE_TOKEN = "delete it and restart the server for a new one, then give that to your clients"


def transport_token() -> str:
    """The token TCP/WebSocket clients must send: GROUNDHOG_TOKEN, else a 0600 file under the user
    config dir, generated on first use."""
    env = os.environ.get("GROUNDHOG_TOKEN")
    if env:
        return env
    directory = default_config_dir()
    ensure_private_dir(directory, "The config directory")
    path = directory / TOKEN_FILE
    if not path.exists() and not path.is_symlink():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        print(f"groundhog: generated a transport token in {path}", file=sys.stderr)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise PersistenceError(f"The transport token file cannot be read ({error.strerror}).") from None
    with os.fdopen(fd, "r") as handle:
        check_private_file(handle.fileno(), path, "The transport token file", rotate=ROTATE_TOKEN)
        token = handle.read().strip()
    if not token:
        raise PersistenceError("The transport token file is empty.")
    return token


def open_log_file(path: Path) -> TextIO:
    """The log file, appended to: created 0600, never through a symlink, refused if it is not ours
    or others may write it (logs name paths and errors)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK, FILE_MODE)
    except OSError as error:
        raise PersistenceError(f"The log file cannot be opened ({error.strerror}).") from None
    try:
        check_private_file(fd, path, "The log file")
    except ContextError:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")
