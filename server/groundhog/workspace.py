"""Where things live: a workspace's canonical identity (the same for every face and process that
opens the same folder) and the default store and config directories."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import platformdirs

APP_NAME = "groundhog"
NO_WORKSPACE = "groundhog:no-workspace"


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
