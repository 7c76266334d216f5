"""A shared workspace's key and the shared database, as the ``key`` and ``store`` commands need them:
the faces never touch the key files (store/keys.py keeps them under its rules) or the database
(store/postgres.py) themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from groundhog.errors import InvalidState
from groundhog.manager import ContextManager
from groundhog.store import keys
from groundhog.store.common import NO_SHARED_KEY
from groundhog.store.rotation import Rotation, rotate_master_key
from groundhog.userconfig import default_config_dir

WORKSPACE_KEY_ENV = keys.WORKSPACE_KEY_ENV


def describe_store_url(url: str) -> str:
    """The connection string as people may see it: never its password."""
    from groundhog.store.pgdatabase import describe_url  # psycopg only where a database is named

    return describe_url(url)


def init_shared_database(url: str) -> str:
    """Create Groundhog's schema in a database (idempotent); what was done."""
    from groundhog.store.pgdatabase import init_database

    return init_database(url)


def exported_key(workspace_id: str) -> str | None:
    """The workspace's key as one line for a password manager; None when this machine has none."""
    key = keys.load_workspace_key(default_config_dir(), workspace_id)
    return None if key is None else keys.key_string(workspace_id, key)


def import_key(line: str) -> tuple[str, Path]:
    """Keep an exported key on this machine: (its workspace id, the file it is in now)."""
    workspace_id, key = keys.parse_key_string(line)
    keys.save_workspace_key(default_config_dir(), workspace_id, key, replace=True)
    return workspace_id, keys.workspace_key_path(default_config_dir(), workspace_id)


def rotate_workspace_key(manager: ContextManager, announce: Callable[[str], None]) -> None:
    """A new key for the workspace of ``manager`` (a shared store's): ``announce`` gets its line
    before the database changes, so whatever happens next its owner has it; then the data key is
    wrapped under it (the old key opens nothing), this machine keeps it, and it is audited. A
    workspace with members has no shared key: refused before any key is printed."""
    if not manager.store.shared_key:
        raise InvalidState(NO_SHARED_KEY)
    if manager.members():
        raise InvalidState(
            "This workspace has members, each with a key of their own: `groundhog members remove "
            "NAME` takes one out (there is no shared key to rotate)."
        )
    new_key = keys.new_data_key()
    announce(keys.key_string(manager.workspace_id, new_key))
    manager.store.rewrap_key(new_key)
    keys.save_workspace_key(default_config_dir(), manager.workspace_id, new_key, replace=True)
    manager.audit("key-rotated", "cli", {})


def rotate_master(store_dir: Path) -> Rotation:
    """A new master key for this machine's stores under ``store_dir`` (store/rotation.py)."""
    return rotate_master_key(default_config_dir(), store_dir)
