"""The limits a workspace is opened with: defaults and the ranges that can apply, in one place for
the library (create_manager), the editors' initializationOptions and the agents' flags."""

from __future__ import annotations

DEFAULT_HISTORY_LIMIT = 1000  # versions kept per context (snapshots are kept regardless)
HISTORY_LIMIT_RANGE = (1, 1_000_000)

DEFAULT_SNAPSHOT_MAX_BYTES = 1 << 20  # the largest state (compact JSON) an update or snapshot makes
SNAPSHOT_MAX_BYTES_RANGE = (2, 1 << 30)

DEFAULT_EDITOR_FLUSH_MS = 2000  # at most how often a session persists its tracked editor state
EDITOR_FLUSH_MS_RANGE = (0, 3_600_000)

DEFAULT_AUDIT_KEEP = 100_000  # audit records kept (the older ones go, the kept chain anchored)
AUDIT_KEEP_RANGE = (10, 100_000_000)

# Audit records older than this go too (the kept chain anchored the same way). The audit log is the
# record of who did what; 90 days is the look-back audit trails commonly keep by default (CloudTrail's
# event history, for one), and a count alone would let a burst of writes flush a quiet month.
DEFAULT_AUDIT_MAX_AGE_DAYS = 90
AUDIT_MAX_AGE_DAYS_RANGE = (1, 36_500)

DEFAULT_RECOVERY_POINTS_KEEP = 20  # per context; user snapshots are never pruned automatically
RECOVERY_POINTS_KEEP_RANGE = (1, 100_000)

DEFAULT_STORE_BUDGET_BYTES = 1 << 30  # per workspace: past it, old history and recovery points go
STORE_BUDGET_BYTES_RANGE = (1 << 20, 1 << 40)

# The change feed tells other sessions what changed; they read it every 50 ms, up to 500 rows at a
# time, so a healthy reader is a poll behind. It keeps the newest `feed_keep` rows whatever their age,
# and older rows while they can still tell a reader that was held up something (their version is still
# kept: the feed joins it) for up to `feed_max_age_s`: a reader stalled longer (a debugger, a suspended
# process) misses those versions' notifications, not data (subscribers read versions from the store).
DEFAULT_FEED_KEEP = 1_000
FEED_KEEP_RANGE = (100, 10_000_000)
DEFAULT_FEED_MAX_AGE_S = 300.0
# How often a session looks at the feed when nothing woke it (its own commits and a shared store's
# pushes wake it at once): another process's change on SQLite reaches a client within ~50 ms.
FEED_POLL_S = 0.05

DEFAULT_MAX_RESULT_BYTES = 65536  # an MCP tool result's JSON: a 1 MB state never floods an agent's context
MAX_RESULT_BYTES_RANGE = (1024, 1 << 30)

# The largest LSP message `groundhog serve` reads: a frame announcing more closes the connection
# unread (a 2 GB Content-Length made an unbounded reader unresponsive). 64 MiB carries a 64 MiB state.
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
MAX_MESSAGE_BYTES_RANGE = (1024, 1 << 30)

# A session's lease (store/liveness.py): its server renews it every third of it, so a live session
# survives two missed renewals (a database restart, a network blip) and a dead one is shown gone
# within one to four thirds of it after its last renewal. One small write per server per renewal,
# however many sessions and editor events: 90 s is ~1 write every 30 s per server.
DEFAULT_SESSION_LEASE_S = 90
SESSION_LEASE_S_RANGE = (3, 86_400)

DEFAULT_LOCK_TIMEOUT_S = 5.0  # how long a write waits for another's lock before LockError

# Agent hooks (groundhog.agents): a hook runs at every session start and after every turn, so it
# waits for a locked store only briefly, gives up as a whole well within the agents' own hook
# timeouts (Claude Code: 60 s, our plugin asks for 10 s), and hands the model a brief of a few KB.
HOOK_LOCK_TIMEOUT_S = 1.0  # SessionStart: a locked store is still read for the brief; its record is skipped
DEFAULT_HOOK_TIMEOUT_S = 8.0
# The records of PreCompact, Stop and SessionEnd are written by a worker that outlives the hook
# when the agent stops waiting (agents/background.py): it waits for other writers like any writer
# (ten sessions stopping at once queue for the lock), and gives up as a whole after 30 s.
HOOK_WORKER_LOCK_TIMEOUT_S = DEFAULT_LOCK_TIMEOUT_S
HOOK_WORKER_TIMEOUT_S = 30.0
HOOK_TIMEOUT_S_RANGE = (1, 600)
# Agent hooks snapshot a context at each session's end (a point to roll back to "before that session");
# the newest 20 per context cover a few days of sessions, and people's own snapshots are never pruned.
DEFAULT_AGENT_SNAPSHOTS_KEEP = 20
AGENT_SNAPSHOTS_KEEP_RANGE = (1, 100_000)
DEFAULT_HOOK_BRIEF_BYTES = 6 * 1024  # the SessionStart brief's size (UTF-8 bytes of text)
HOOK_BRIEF_BYTES_RANGE = (512, 1 << 20)


def within(value: object, bounds: tuple[int, int]) -> bool:
    """An integer (not a bool) inside ``bounds``, both ends included."""
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
