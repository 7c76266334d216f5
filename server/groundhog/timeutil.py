"""RFC 3339 UTC timestamps with milliseconds, the one time format of the protocol and the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> str:
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ago(seconds: float) -> str:
    """The timestamp ``seconds`` before now (fixed width: timestamps compare as text)."""
    return format_time(datetime.now(UTC) - timedelta(seconds=seconds))
