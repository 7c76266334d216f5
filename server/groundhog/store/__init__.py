"""Persistence: one encrypted SQLite database per workspace (see ARCHITECTURE.md, "Store").

``paths`` decides where things live and enforces permissions; ``keys`` holds key material;
``codec`` serializes and encrypts; ``sqlite`` is the database and its transactions;
``integrity`` checks hash chains and recovers damaged heads.
"""

from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore, StoreSettings

__all__ = ["SqliteStore", "StoreLocation", "StoreSettings"]
