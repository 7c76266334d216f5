"""What the store's integrity checks tell the engine and the faces: a recovery that happened, and
what ``verify`` found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecoveryReport:
    context: str
    from_version: int  # the damaged head
    to_version: int  # the valid version (or snapshot's version) whose data was restored
    version: int  # the new `recover` version
    reason: str
    snapshot_id: str | None = None


@dataclass
class VerifyReport:
    problems: list[dict[str, Any]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, what: str, **details: Any) -> None:
        self.problems.append({"where": where, "problem": what, **details})

    def count(self, kind: str, n: int = 1) -> None:
        self.checked[kind] = self.checked.get(kind, 0) + n
