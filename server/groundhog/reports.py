"""What the store's integrity checks tell the engine and the faces: a recovery that happened, a
damaged store file that was set aside and salvaged, and what ``verify`` found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecoveryReport:
    context: str
    from_version: int | None  # the damaged head (None: not known, the context's record was lost)
    to_version: int | None  # the valid version (or snapshot's version) restored; None: nothing was
    version: int | None  # the new `recover` version (None: none was written)
    reason: str
    snapshot_id: str | None = None

    @property
    def lost(self) -> bool:
        """Nothing of the context could be restored: it is gone from the store."""
        return self.to_version is None


@dataclass(frozen=True)
class SalvageReport:
    """A store file found damaged below its rows, set aside and salvaged into a new one."""

    when: str
    set_aside: str  # the damaged file's new name, beside the store
    problem: str  # what was found damaged
    recoveries: list[RecoveryReport]  # contexts restored to an older version, and contexts lost
    whole: list[str]  # contexts kept exactly as they were
    lost_rows: dict[str, int]  # per table: rows that could not be read and authenticated
    data_key_lost: bool = False  # the key's row was lost: nothing could be read, the store is new

    def summary(self) -> str:
        """One paragraph for a person: what was kept, what was lost, where the old file is."""
        if self.data_key_lost:
            return (
                "The store file was damaged and the row holding its data key could not be read, so "
                "none of its data can be decrypted: Groundhog started an empty store with a new key. "
                f"The damaged file is kept as {self.set_aside} beside the store (a backup of it opens "
                "with this machine's master key)."
            )
        restored = [r for r in self.recoveries if not r.lost]
        lost = [r for r in self.recoveries if r.lost]
        parts = [f"{len(self.whole)} context(s) kept whole"]
        if restored:
            parts.append(
                "restored to an older version: "
                + ", ".join(f"{r.context!r} ({r.from_version} -> {r.to_version})" for r in restored)
            )
        if lost:
            parts.append("lost: " + ", ".join(repr(r.context) for r in lost))
        rows = sum(self.lost_rows.values())
        return (
            f"The store file was damaged ({self.problem}) and was salvaged: {'; '.join(parts)}; "
            f"{rows} row(s) could not be read. The damaged file is kept as {self.set_aside} beside the "
            "store; `groundhog verify` says the same, and `groundhog verify --discard-damaged` deletes "
            "it once you no longer need it."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "when": self.when,
            "setAside": self.set_aside,
            "problem": self.problem,
            "whole": self.whole,
            "recovered": [
                {
                    "context": r.context,
                    "fromVersion": r.from_version,
                    "toVersion": r.to_version,
                    "reason": r.reason,
                }
                for r in self.recoveries
            ],
            "lostRows": self.lost_rows,
            "dataKeyLost": self.data_key_lost,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SalvageReport:
        return cls(
            when=str(value["when"]),
            set_aside=str(value["setAside"]),
            problem=str(value["problem"]),
            recoveries=[
                RecoveryReport(r["context"], r["fromVersion"], r["toVersion"], None, r["reason"])
                for r in value["recovered"]
            ],
            whole=list(value["whole"]),
            lost_rows=dict(value["lostRows"]),
            data_key_lost=bool(value["dataKeyLost"]),
        )


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


def describe_recovery(report: RecoveryReport) -> str:
    """One sentence for a person (an agent's log) about one context's recovery."""
    if report.lost:
        return f"Context {report.context!r} was lost to damage in the store: {report.reason}."
    if report.from_version == report.to_version:
        return f"Context {report.context!r}: {report.reason}."
    return (
        f"Context {report.context!r} was damaged at version {report.from_version} and restored to the "
        f"data of version {report.to_version} ({report.reason})."
    )
