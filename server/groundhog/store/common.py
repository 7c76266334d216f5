"""What both backends share: the settings a store takes (the engine derives them from the user's,
opening.store_settings) and the id of a workspace's first data key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from groundhog.limits import (
    DEFAULT_AUDIT_KEEP,
    DEFAULT_AUDIT_MAX_AGE_DAYS,
    DEFAULT_FEED_KEEP,
    DEFAULT_FEED_MAX_AGE_S,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_RECOVERY_POINTS_KEEP,
    DEFAULT_STORE_BUDGET_BYTES,
)

KEY_ID = 1  # the first data key's id in every store (later ones come with members: keyring.py)
NO_SHARED_KEY = (  # what a workspace key rotation answers on a store that has none
    "The embedded store has no shared workspace key: its data key is wrapped by this machine's "
    "master key (`groundhog key rotate-master` replaces that)."
)


@dataclass(frozen=True)
class StoreSettings:
    history_limit: int = DEFAULT_HISTORY_LIMIT  # versions kept per context (the size limit is the tracker's)
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    # policy, in one place: a checkpoint at least every `checkpoint_every` versions, and whenever
    # the deltas since the last one reach the state's size (at least `checkpoint_min_bytes`); a
    # delta of half the state or more (and over that floor) is written as a checkpoint instead.
    # Deltas are splices (store/splices.py), so an append log's deltas never add up to its state:
    # the count bounds how far a rebuild goes (~1000 small deltas) and how often the state is
    # written whole (once per 1000 versions, about the kept history). Each delta costs a rebuild
    # ~10 us (a row, a decrypt, an unpack) whatever its size, about what `checkpoint_delta_bytes`
    # of checkpoint cost: a checkpoint also once the deltas since the last one, counted so, reach
    # the state's size, so that no rebuild of a 1 MB state goes through more than 256 deltas (a
    # rollback's tail, issue 23: 1000 deltas took ~12 ms) while a 16 MB state keeps its 1000.
    checkpoint_every: int = 1000
    checkpoint_min_bytes: int = 64 * 1024
    checkpoint_delta_bytes: int = 4096
    feed_keep: int = DEFAULT_FEED_KEEP
    feed_max_age_s: float = DEFAULT_FEED_MAX_AGE_S
    audit_keep: int = DEFAULT_AUDIT_KEEP
    audit_max_age_s: float | None = DEFAULT_AUDIT_MAX_AGE_DAYS * 86_400.0  # None: no age limit
    recovery_points_keep: int = DEFAULT_RECOVERY_POINTS_KEEP
    budget_bytes: int = DEFAULT_STORE_BUDGET_BYTES  # store/budget.py
    config_dir: Path | None = None
    create_key: bool = True  # false for readers that must find the existing key (verify, the CLI)
    read_only: bool = False  # open an existing store without taking the write lock
    member_name: str | None = None  # this machine's, as the first member of a workspace it makes
