"""Every setting of Groundhog, declared once: its name, default, range, the editors' wire name
(``initializationOptions``), the command-line flag, the environment variable and the key of the
user's configuration file. The option parsers of every face, the CLI flags, the config file's
checks, ``groundhog config``, ``groundhog doctor`` and docs/options.md all come from this table.

Where a value comes from, lowest first: the default, the user's configuration file (its top level,
then its ``[workspace."<path>"]`` table for the workspace), the environment variable, the
command-line flag, and an editor's ``initializationOptions`` (one session's own choice). Agent hosts
that filter the environment (mcp-hub, Codex) still start the server with the user's configuration
file, which is why everything an environment variable can say, the file can say too. Nothing is read
from the repository: a checkout never points a user's processes at another store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from groundhog.limits import (
    AGENT_SNAPSHOTS_KEEP_RANGE,
    AUDIT_KEEP_RANGE,
    AUDIT_MAX_AGE_DAYS_RANGE,
    DEFAULT_AGENT_SNAPSHOTS_KEEP,
    DEFAULT_AUDIT_KEEP,
    DEFAULT_AUDIT_MAX_AGE_DAYS,
    DEFAULT_EDITOR_FLUSH_MS,
    DEFAULT_FEED_KEEP,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_HOOK_BRIEF_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_RESULT_BYTES,
    DEFAULT_RECOVERY_POINTS_KEEP,
    DEFAULT_SESSION_LEASE_S,
    DEFAULT_SNAPSHOT_MAX_BYTES,
    DEFAULT_STORE_BUDGET_BYTES,
    EDITOR_FLUSH_MS_RANGE,
    FEED_KEEP_RANGE,
    HISTORY_LIMIT_RANGE,
    HOOK_BRIEF_BYTES_RANGE,
    MAX_MESSAGE_BYTES_RANGE,
    MAX_RESULT_BYTES_RANGE,
    RECOVERY_POINTS_KEEP_RANGE,
    SESSION_LEASE_S_RANGE,
    SNAPSHOT_MAX_BYTES_RANGE,
    STORE_BUDGET_BYTES_RANGE,
    within,
)

T = TypeVar("T")

# Which commands take a setting's flag: the two servers, and the commands that only locate a store.
SERVERS = frozenset({"serve", "mcp"})
LOCATORS = frozenset({"serve", "mcp", "people", "doctor"})
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Spec:
    """One setting's declaration (``name`` is the field's; the rest is given to ``declare``)."""

    default: Any
    kind: type
    help: str
    wire: str | None = None  # initializationOptions key
    flag: str | None = None  # --flag, on the commands in `commands`
    env: str | None = None  # environment variable
    config: bool = True  # settable in config.toml (under `name`)
    per_workspace: bool = True  # settable in a [workspace."<path>"] table too
    bounds: tuple[int, int] | None = None
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # the reason a value is refused, or None
    path: bool = False  # a file-system path: ~ expanded, must then be absolute
    secret: bool = False  # never shown
    commands: frozenset[str] = SERVERS
    name: str = ""


def declare(default: T, kind: type, help: str, **spec: Any) -> T:
    """A field of ``Settings`` carrying its declaration."""
    return field(default=default, metadata={"spec": Spec(default, kind, help, **spec)})


def _postgres_url(value: str) -> str | None:
    from groundhog.workspace import is_postgres_url

    return None if is_postgres_url(value) else "must be a postgresql:// URL"


def _workspace_id(value: str) -> str | None:
    from groundhog.workspace import valid_workspace_id

    return None if valid_workspace_id(value) else "must be 1 to 128 letters, digits, '.', '_', '-' or '/'"


def _member_name(value: str) -> str | None:
    from groundhog.errors import InvalidParams
    from groundhog.names import member_name

    try:
        member_name(value)
    except InvalidParams:
        return "must be 1 to 64 letters, digits, spaces or '._@+-', starting with a letter or digit"
    return None


def _context_name(value: str) -> str | None:
    from groundhog.errors import InvalidParams
    from groundhog.names import validate_name

    try:
        validate_name(value)
    except InvalidParams:
        return "must be a context name (letters, digits, '.', '_', '-', '/')"
    return None


@dataclass(frozen=True)
class Settings:
    """The settings of one process or session, every one defaulted."""

    store_dir: str | None = declare(
        None,
        str,
        "where workspace stores live (default: the platform's user data directory)",
        wire="storeDir",
        flag="--store-dir",
        env="GROUNDHOG_HOME",
        path=True,
        per_workspace=False,
        commands=LOCATORS,
    )
    key_dir: str | None = declare(
        None,
        str,
        "where the master key, workspace keys and the transport token live "
        "(default: the platform's user config directory)",
        flag="--key-dir",
        env="GROUNDHOG_CONFIG_DIR",
        path=True,
        per_workspace=False,
        commands=LOCATORS,
    )
    store_url: str | None = declare(
        None,
        str,
        "a shared PostgreSQL store, postgresql://user@host/db (default: none, the embedded SQLite store)",
        wire="storeUrl",
        flag="--store",
        env="GROUNDHOG_STORE_URL",
        check=_postgres_url,
        commands=LOCATORS,
    )
    workspace_id: str | None = declare(
        None,
        str,
        "the workspace's name in a shared store (default: its repository's remote and path)",
        wire="workspaceId",
        flag="--workspace-id",
        env="GROUNDHOG_WORKSPACE_ID",
        check=_workspace_id,
        commands=LOCATORS,
    )
    member_name: str | None = declare(
        None,
        str,
        "this machine's name as a member of the workspaces it makes or starts members on "
        "(default: user@host)",
        env="GROUNDHOG_MEMBER_NAME",
        check=_member_name,
        per_workspace=False,
        commands=frozenset(),
    )
    read_only: bool = declare(
        False,
        bool,
        "reads only: every write answers AccessDenied and nothing is persisted",
        wire="readOnly",
        flag="--read-only",
    )
    history_limit: int = declare(
        DEFAULT_HISTORY_LIMIT,
        int,
        "versions kept per context (snapshots are kept regardless)",
        wire="historyLimit",
        flag="--history-limit",
        bounds=HISTORY_LIMIT_RANGE,
    )
    snapshot_max_bytes: int = declare(
        DEFAULT_SNAPSHOT_MAX_BYTES,
        int,
        "largest state (compact JSON bytes) an update or snapshot may produce; up to 64 MiB works "
        "end to end (the largest message)",
        wire="snapshotMaxBytes",
        flag="--snapshot-max-bytes",
        bounds=SNAPSHOT_MAX_BYTES_RANGE,
    )
    editor_tracking: bool = declare(
        True,
        bool,
        "track open documents, the active document and selections",
        wire="editorTracking",
        commands=frozenset({"serve"}),
    )
    editor_flush_ms: int = declare(
        DEFAULT_EDITOR_FLUSH_MS,
        int,
        "at most how often the tracked editor state is persisted (milliseconds)",
        wire="editorFlushMs",
        flag="--editor-flush-ms",
        bounds=EDITOR_FLUSH_MS_RANGE,
        commands=frozenset({"serve"}),
    )
    store_budget_bytes: int = declare(
        DEFAULT_STORE_BUDGET_BYTES,
        int,
        "the workspace's storage budget: past it the oldest history, then the oldest recovery "
        "points go (never your snapshots, never a head)",
        wire="storeBudgetBytes",
        flag="--store-budget-bytes",
        bounds=STORE_BUDGET_BYTES_RANGE,
    )
    recovery_points_keep: int = declare(
        DEFAULT_RECOVERY_POINTS_KEEP,
        int,
        "recovery points kept per context (your snapshots are never pruned)",
        wire="recoveryPointsKeep",
        flag="--recovery-points-keep",
        bounds=RECOVERY_POINTS_KEEP_RANGE,
    )
    audit_keep: int = declare(
        DEFAULT_AUDIT_KEEP,
        int,
        "audit records kept; older ones go, the kept chain anchored",
        wire="auditKeep",
        flag="--audit-keep",
        bounds=AUDIT_KEEP_RANGE,
    )
    audit_max_age_days: int = declare(
        DEFAULT_AUDIT_MAX_AGE_DAYS,
        int,
        "audit records older than this many days go too",
        wire="auditMaxAgeDays",
        flag="--audit-max-age-days",
        bounds=AUDIT_MAX_AGE_DAYS_RANGE,
    )
    feed_keep: int = declare(
        DEFAULT_FEED_KEEP,
        int,
        "change-feed rows always kept for sessions that fall behind",
        wire="feedKeep",
        flag="--feed-keep",
        bounds=FEED_KEEP_RANGE,
    )
    session_lease_s: int = declare(
        DEFAULT_SESSION_LEASE_S,
        int,
        "seconds a session of another machine stays listed after its server last renewed it "
        "(renewed every third of it)",
        wire="sessionLeaseS",
        flag="--session-lease-s",
        env="GROUNDHOG_SESSION_LEASE_S",
        bounds=SESSION_LEASE_S_RANGE,
    )
    token: str | None = declare(
        None,
        str,
        "the token TCP / WebSocket clients must send (default: a generated one in the key directory)",
        wire="token",
        env="GROUNDHOG_TOKEN",
        config=False,
        secret=True,
        commands=frozenset(),
    )
    context: str | None = declare(
        None,
        str,
        "the context an agent's session starts in (default: the workspace's last active one)",
        flag="--context",
        check=_context_name,
        config=False,
        commands=frozenset({"mcp"}),
    )
    max_result_bytes: int = declare(
        DEFAULT_MAX_RESULT_BYTES,
        int,
        "no MCP tool answer is longer (the result and its text copy together); context_get returns "
        "the keys that fit and names the rest",
        flag="--max-result-bytes",
        bounds=MAX_RESULT_BYTES_RANGE,
        commands=frozenset({"mcp"}),
    )
    hook_brief_bytes: int = declare(
        DEFAULT_HOOK_BRIEF_BYTES,
        int,
        "the size of the brief an agent's SessionStart hook hands the model (UTF-8 bytes)",
        flag="--brief-max-bytes",
        env="GROUNDHOG_HOOK_BRIEF_BYTES",
        bounds=HOOK_BRIEF_BYTES_RANGE,
        commands=frozenset({"hook"}),
    )
    agent_snapshots_keep: int = declare(
        DEFAULT_AGENT_SNAPSHOTS_KEEP,
        int,
        "snapshots taken at the end of agent sessions kept per context; older ones are deleted "
        "(snapshots people take are never pruned)",
        env="GROUNDHOG_AGENT_SNAPSHOTS_KEEP",
        bounds=AGENT_SNAPSHOTS_KEEP_RANGE,
        commands=frozenset(),
    )
    max_message_bytes: int = declare(
        DEFAULT_MAX_MESSAGE_BYTES,
        int,
        "the largest LSP message the server reads; a frame announcing more closes the connection unread",
        flag="--max-message-bytes",
        bounds=MAX_MESSAGE_BYTES_RANGE,
        per_workspace=False,
        commands=frozenset({"serve"}),
    )
    log_level: str = declare(
        "warning",
        str,
        "what the servers log (to stderr, never stdout)",
        flag="--log-level",
        choices=LOG_LEVELS,
        per_workspace=False,
        commands=SERVERS,
    )
    log_file: str | None = declare(
        None,
        str,
        "also log to this file (created 0600; `groundhog doctor` reads its end)",
        flag="--log-file",
        path=True,
        per_workspace=False,
        commands=SERVERS,
    )

    def with_values(self, values: Mapping[str, Any]) -> Settings:
        return replace(self, **values)


def _specs() -> dict[str, Spec]:
    found = {}
    for item in fields(Settings):
        spec: Spec = item.metadata["spec"]
        found[item.name] = replace(spec, name=item.name)
    return found


SPECS: dict[str, Spec] = _specs()
BY_WIRE: dict[str, Spec] = {spec.wire: spec for spec in SPECS.values() if spec.wire}
DEFAULTS = Settings()


def problem(spec: Spec, value: Any) -> str | None:
    """Why ``value`` cannot be this setting, in words that end a sentence; None when it can."""
    if spec.kind is int:
        assert spec.bounds is not None
        if not within(value, spec.bounds):
            return f"must be an integer from {spec.bounds[0]} to {spec.bounds[1]}"
        return None
    if spec.kind is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, str):
        return "must be a string"
    if spec.choices is not None and value not in spec.choices:
        return "must be one of " + ", ".join(spec.choices)
    if spec.path and not os.path.isabs(os.path.expanduser(value)):
        return "must be an absolute path (or start with ~)"
    return spec.check(value) if spec.check is not None else None


def for_people(spec: Spec, value: Any) -> Any:
    """A value as people may see it (doctor, ``groundhog config``, logs): secrets hidden, a URL
    without its password."""
    if value is None:
        return None
    if spec.secret:
        return "(hidden)"
    if spec.name == "store_url" and isinstance(value, str):
        from urllib.parse import urlparse

        parsed = urlparse(value)
        if parsed.password is not None:
            netloc = parsed.netloc.rsplit("@", 1)[1]
            return parsed._replace(netloc=f"{parsed.username}@{netloc}").geturl()
    return value


def normalized(spec: Spec, value: Any) -> Any:
    """A valid value as the engine uses it (paths with ~ expanded)."""
    return os.path.expanduser(value) if spec.path and isinstance(value, str) else value


def from_text(spec: Spec, text: str) -> Any:
    """A value typed by a person (flag, environment variable, ``groundhog config set``): integers and
    booleans are parsed; anything unparseable stays text and fails ``problem``."""
    if spec.path:
        return os.path.abspath(os.path.expanduser(text))  # typed in a shell: relative to where it was
    if spec.kind is int:
        try:
            return int(text)
        except ValueError:
            return text
    if spec.kind is bool:
        lowered = text.strip().lower()
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            lowered, text
        )
    return text


def parse_wire(raw: Any, base: Settings = DEFAULTS) -> tuple[Settings, list[str]]:
    """An editor's ``initializationOptions`` over ``base``: each invalid option is reported (one
    phrase each) and left at ``base``'s value, so a typo never stops an editor from starting."""
    if raw is None:
        return base, []
    if not isinstance(raw, dict):
        return base, ["initializationOptions must be an object; using the defaults"]
    values: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        spec = BY_WIRE.get(key)
        if spec is None:
            problems.append(f"unknown option {key!r} ignored")
            continue
        if value is None:
            continue
        why = problem(spec, value)
        if why is not None:
            kept = getattr(base, spec.name)
            shown = "the default" if kept == spec.default else "the configured value"
            shown += "" if spec.secret else f" {kept!r}"
            problems.append(f"option {key!r} {why}; using {shown}")
            continue
        values[spec.name] = normalized(spec, value)
    return base.with_values(values), problems


def with_overrides(base: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``base`` with single settings changed by name (the library's keyword arguments), each checked
    by its declaration: an unknown name or a bad value is InvalidParams naming it."""
    from groundhog.errors import InvalidParams

    values: dict[str, Any] = {}
    for name, value in overrides.items():
        spec = SPECS.get(name)
        if spec is None:
            raise InvalidParams(f"There is no setting named {name!r}.", field=name)
        if value is None and spec.default is None:
            values[name] = None
            continue
        if spec.path and isinstance(value, os.PathLike):
            value = os.fspath(value)
        why = problem(spec, value)
        if why is not None:
            raise InvalidParams(f"The option {spec.wire or name!r} {why}.", field=spec.wire or name)
        values[name] = normalized(spec, value)
    return base.with_values(values)


def options_table() -> str:
    """docs/options.md's table, from the declarations (a test keeps the page equal to it)."""
    rows = [
        "| setting (config file) | `initializationOptions` | flag | environment | default | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for spec in SPECS.values():
        default = "none" if spec.default is None else str(spec.default).lower()
        if spec.bounds is not None:
            default += f" ({spec.bounds[0]:,} to {spec.bounds[1]:,})"
        elif spec.choices is not None:
            default += " (" + ", ".join(spec.choices) + ")"
        name = f"`{spec.name}`" if spec.config else f"{spec.name} (not in the file)"
        commands = ", ".join(sorted(spec.commands))
        flag = f"`{spec.flag}` ({commands})" if spec.flag else "-"
        cells = [name, f"`{spec.wire}`" if spec.wire else "-", flag, f"`{spec.env}`" if spec.env else "-"]
        rows.append("| " + " | ".join([*cells, default, spec.help]) + " |")
    return "\n".join(rows) + "\n"
