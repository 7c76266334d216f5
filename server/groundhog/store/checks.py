"""The integrity methods every backend's store has (SqliteStore, PostgresStore): recovery, the
store-wide check and repair, ``verify``, error auditing, and the file-only hooks a store without a
file answers with nothing."""

from __future__ import annotations

from collections.abc import Callable

from groundhog.errors import ContextError
from groundhog.reports import RecoveryReport, SalvageReport, VerifyReport
from groundhog.store.integrity import Backend, audit_error, recover_context
from groundhog.store.repair import check_store
from groundhog.store.verify import verify


class Checks:
    """The store methods of this module, for every backend (a store with ``read``/``write``)."""

    def recover_context(self: Backend, name: str, session: str) -> RecoveryReport | None:
        return recover_context(self, name, session)

    def check_store(self: Backend, session: str, *, repair: bool) -> list[RecoveryReport]:
        return check_store(self, session, repair=repair)

    def verify(self: Backend, *, discard_damaged: bool = False) -> VerifyReport:
        return verify(self, discard_damaged=discard_damaged)

    def audit_error(self: Backend, session: str, action: str, name: str, error: ContextError) -> None:
        audit_error(self, session, action, name, error)

    def salvaged(self) -> list[SalvageReport]:
        """The store files this store set aside and salvaged; only a file can be (store/sqlite.py)."""
        return []

    def on_salvage(self, listener: Callable[[SalvageReport], None]) -> None:
        """Never called but by a store kept in a file (store/sqlite.py)."""

    def file_problems(self) -> list[str]:
        """Damage ``verify`` cannot see through the rows (a file store's WAL); none here."""
        return []

    def discard_set_aside(self, names: list[str]) -> None:
        """Delete the damaged files a salvage set aside (a file store's; none here)."""
