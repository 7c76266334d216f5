"""Persistence: one encrypted store per workspace, an embedded SQLite database or a schema of a shared
PostgreSQL database (docs/architecture.md, "The store"). All SQL and all encryption live here.

``interface`` is what the engine asks of a store; ``paths`` decides where things live and enforces
permissions; ``keys`` holds key material; ``codec`` serializes and encrypts; ``sqlite`` is the database
and its transactions (``rows`` and its mix-ins the row operations); ``integrity`` checks hash chains
and recovers damaged heads; ``postgres`` is the shared backend.
"""

from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "StoreLocation", "StoreSettings"]
