"""Opening a workspace's store from the settings: ``create_manager`` (which checks every setting before
anything is opened), the store's own settings, which backend (the embedded SQLite file, or a shared
PostgreSQL database when ``store_url`` names one), and where a store is without opening it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundhog.errors import InvalidParams
from groundhog.limits import DEFAULT_LOCK_TIMEOUT_S
from groundhog.manager import ContextManager
from groundhog.settings import Settings, with_overrides
from groundhog.store.common import StoreSettings
from groundhog.store.interface import Store
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore
from groundhog.tracking import TrackerConfig
from groundhog.workspace import canonical_root, shared_workspace_id


@dataclass(frozen=True)
class StoreInfo:
    """Where a workspace's store is, and whether it exists yet (nothing is opened to say so)."""

    workspace: str  # the canonical workspace URI
    workspace_id: str
    path: Path
    exists: bool


def locate_store(
    workspace: str | os.PathLike[str] | None, store_dir: str | os.PathLike[str] | None = None
) -> StoreInfo:
    location = StoreLocation.for_root(workspace, store_dir)
    database = location.database
    return StoreInfo(location.workspace_root, location.workspace_id, database, database.exists())


def create_manager(
    workspace: str | os.PathLike[str] | None = None,
    *,
    settings: Settings | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    validators: tuple[Any, ...] = (),
    session: str = "library",
    create_key: bool = True,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    **overrides: Any,
) -> ContextManager:
    """Open (creating if needed) the store of ``workspace`` (a path or file URI; None: the
    no-workspace scope) and check it.

    ``settings`` are the faces' resolved settings; without them the user's own apply (defaults, the
    configuration file, the environment: userconfig.resolve). ``overrides`` change single settings by
    name (``history_limit=10``, ``store_dir=...``, ``store_url="postgresql://..."``), each checked by
    its declaration in settings.py. ``config_dir`` is where the keys live (the ``key_dir`` setting).
    A ``store_url`` chooses a shared PostgreSQL store, where the workspace is named by its repository
    (store/postgres.py, workspace.shared_identity) unless ``workspace_id`` names it."""
    if settings is None:
        from groundhog.userconfig import resolve

        settings = resolve(workspace).settings
    if config_dir is not None:
        overrides["key_dir"] = os.fspath(config_dir)
    settings = with_overrides(settings, overrides)
    if isinstance(lock_timeout_s, bool) or not isinstance(lock_timeout_s, int | float) or lock_timeout_s <= 0:
        raise InvalidParams(
            "The option 'lockTimeoutS' must be a positive number of seconds.", field="lockTimeoutS"
        )
    store = open_store(
        workspace, store_settings(settings, create_key=create_key, lock_timeout_s=lock_timeout_s), settings
    )
    config = TrackerConfig(settings.snapshot_max_bytes, settings.read_only, tuple(validators))
    manager = ContextManager(store, config, lease_s=settings.session_lease_s)
    manager.check_on_open(session)
    if not settings.read_only:
        manager.record_budget(settings.store_budget_bytes)
    return manager


def store_settings(
    settings: Settings, *, create_key: bool = True, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> StoreSettings:
    """What the store itself needs of the settings."""
    return StoreSettings(
        history_limit=settings.history_limit,
        config_dir=Path(settings.key_dir) if settings.key_dir else None,
        create_key=create_key,
        busy_timeout_s=lock_timeout_s,
        read_only=settings.read_only,
        audit_keep=settings.audit_keep,
        audit_max_age_s=settings.audit_max_age_days * 86_400.0,
        recovery_points_keep=settings.recovery_points_keep,
        budget_bytes=settings.store_budget_bytes,
        feed_keep=settings.feed_keep,
        member_name=settings.member_name,
    )


def open_store(workspace: str | os.PathLike[str] | None, store: StoreSettings, settings: Settings) -> Store:
    """The workspace's store: the shared PostgreSQL one when ``settings.store_url`` names one, else
    the embedded SQLite file."""
    url = settings.store_url
    if url is None:
        if settings.workspace_id is not None:
            raise InvalidParams(
                "The option 'workspaceId' names a workspace in a shared store; give 'storeUrl' too.",
                field="workspaceId",
            )
        return SqliteStore(StoreLocation.for_root(workspace, settings.store_dir), store)
    try:
        shared_id = shared_workspace_id(workspace, settings.workspace_id)
    except ValueError as error:
        raise InvalidParams(f"The option 'workspaceId' is not valid: {error}", field="workspaceId") from None
    from groundhog.store.postgres import PostgresStore  # psycopg costs ~100 ms to import: only when used

    return PostgresStore(url, canonical_root(workspace), shared_id, store)
