"""The people CLI: read-only views of a workspace's store, but for two explicit acts of cleaning up
(``verify --discard-damaged``, ``snapshot delete``).

Each command opens the store of ``--workspace`` (default: the current directory) without recovering
or creating anything, prints a readable table, or JSON with ``--json``. ``snapshot delete`` writes
because it is the one way to remove a snapshot for someone without an editor or an agent at hand
(say one that captured a secret): like discarding damage, it is a deliberate, named act on one row,
audited, and it goes through the same library call as every other face.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from groundhog.briefing import snapshot_wire
from groundhog.deletions import context_of_snapshot
from groundhog.errors import PersistenceError, SnapshotNotFound, StoreDamaged
from groundhog.flags import add_flags, given
from groundhog.manager import ContextManager
from groundhog.names import DEFAULT_CONTEXT
from groundhog.opening import create_manager, locate_store
from groundhog.settings import Settings
from groundhog.userconfig import resolve


def command(commands: Any, name: str, help_text: str, run: Callable[[argparse.Namespace], int]) -> Any:
    """A people command on the workspace of ``--workspace`` with the store flags and ``--json``."""
    parser = commands.add_parser(name, help=help_text, allow_abbrev=False)
    parser.add_argument("--workspace", default=".", help="the workspace root (default: .)")
    add_flags(parser, "people")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(run=run)
    return parser


def add_commands(commands: Any) -> None:
    command(commands, "status", "the workspace's store and active context", _status)
    command(commands, "contexts", "the contexts of the workspace", _contexts)
    command(commands, "sessions", "the editors and agents open on the workspace", _sessions)
    log = command(commands, "log", "the history of a context", _log)
    log.add_argument("context", nargs="?", help="default: the last active context")
    log.add_argument("--limit", type=int, default=50)
    show = command(commands, "show", "a context's data at its head or a version", _show)
    show.add_argument("context")
    show.add_argument("--version", type=int)
    verify = command(commands, "verify", "decrypt every row and check every chain", _verify)
    verify.add_argument(
        "--discard-damaged",
        action="store_true",
        help="delete the damaged rows that recovery set aside, and the damaged files a salvage set aside",
    )
    verify.add_argument(
        "--salvage",
        action="store_true",
        help="a store file damaged below its rows: set it aside and salvage it now (as a server would)",
    )
    audit = command(commands, "audit", "the audit log, newest first", _audit)
    audit.add_argument("--limit", type=int, default=100)
    listing = command(commands, "snapshots", "the snapshots and recovery points of a context", _snapshots)
    listing.add_argument("context", nargs="?", help="default: the last active context")
    snapshot = command(commands, "snapshot", "act on one snapshot: 'snapshot delete ID'", _snapshot)
    snapshot.add_argument("action", choices=["delete"])
    snapshot.add_argument("id", help="the snapshot's id (groundhog snapshots)")
    snapshot.add_argument("--context", help="the context holding it (default: found by its id)")


def open_manager(args: argparse.Namespace, *, writable: bool = False) -> ContextManager:
    """The command's workspace, opened without creating anything (writable: a command that writes)."""
    return _open(args, writable=writable)


def _open(args: argparse.Namespace, *, writable: bool = False) -> ContextManager:
    chosen = settings_for(args)
    if not chosen.store_url and not locate_store(_root(args), chosen.store_dir).exists:
        raise PersistenceError(f"No Groundhog store exists for the workspace {_root(args)}.")
    return create_manager(
        _root(args), settings=chosen, read_only=not writable, session="cli", create_key=False
    )


def settings_for(args: argparse.Namespace) -> Settings:
    """The store settings of the command's workspace: its flags over the environment and the
    user's configuration file."""
    return resolve(_root(args), given(args, "people")).settings


def root(args: argparse.Namespace) -> str:
    return _root(args)


def _root(args: argparse.Namespace) -> str:
    return os.path.abspath(str(args.workspace))


def _status(args: argparse.Namespace) -> int:
    chosen = settings_for(args)
    location = locate_store(_root(args), chosen.store_dir)
    if not chosen.store_url and not location.exists:
        _emit(
            args,
            {"workspace": location.workspace, "store": None},
            lambda: print(f"No stored state for {location.workspace}."),
        )
        return 0
    try:
        manager = _open(args)
    except StoreDamaged as damage:
        return _damaged(args, damage)
    contexts = manager.list_contexts()
    storage = manager.storage()
    salvages = manager.salvage_history()
    value: dict[str, Any] = {
        "workspace": {"uri": location.workspace, "id": manager.workspace_id},
        "store": {"path": manager.where, "encrypted": True},
        "lastActive": manager.last_active(),
        "contexts": len(contexts),
        "versions": sum(c.version for c in contexts),
        "storage": {
            "usedBytes": storage.used_bytes,
            "budgetBytes": storage.budget_bytes,
            "auditBytes": storage.audit_bytes,
            "auditRecords": storage.audit_records,
        },
        "overBudget": storage.over_budget,
        "salvages": [salvage.to_json() for salvage in salvages],
    }
    over = (
        " (OVER BUDGET: history and recovery points are already folded away)" if storage.over_budget else ""
    )
    _emit(
        args,
        value,
        lambda: _table(
            ["field", "value"],
            [
                ["workspace", location.workspace],
                ["store", manager.where],
                ["last active", value["lastActive"] or "-"],
                ["contexts", str(len(contexts))],
                ["size", f"{_mb(storage.used_bytes)} of {_mb(storage.budget_bytes)} budget{over}"],
                ["audit log", f"{_mb(storage.audit_bytes)} of it, {storage.audit_records} records"],
                *[["damage", salvage.summary()] for salvage in salvages],
            ],
        ),
    )
    return 0


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _contexts(args: argparse.Namespace) -> int:
    contexts = _open(args).list_contexts()
    rows: list[dict[str, Any]] = [
        {"name": c.name, "version": c.version, "lastModified": c.last_modified, "sessions": c.sessions}
        for c in contexts
    ]
    _emit(
        args,
        {"contexts": rows},
        lambda: _table(
            ["name", "version", "last modified", "sessions"],
            [[r["name"], str(r["version"]), r["lastModified"], str(r["sessions"])] for r in rows],
        ),
    )
    return 0


def _sessions(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = [
        {
            "session": live.id,
            "kind": live.kind,
            "client": live.client,
            "clientVersion": live.client_version,
            "started": live.started,
            "context": live.context,
        }
        for live in _open(args).live_sessions()
    ]
    _emit(
        args,
        {"sessions": rows},
        lambda: _table(
            ["session", "kind", "client", "started", "context"],
            [[r["session"], r["kind"], r["client"], r["started"], r["context"] or "-"] for r in rows],
        ),
    )
    return 0


def _log(args: argparse.Namespace) -> int:
    manager = _open(args)
    name = args.context or manager.last_active() or DEFAULT_CONTEXT
    entries, oldest = manager.tracker(name).history(args.limit)
    rows = [entry.to_wire() for entry in entries]
    _emit(
        args,
        {"context": name, "entries": rows, "oldestVersion": oldest},
        lambda: _table(
            ["version", "timestamp", "kind", "session", "changed keys"],
            [
                [str(r["version"]), r["timestamp"], r["kind"], r["session"], _keys(r["changedKeys"])]
                for r in rows
            ],
        ),
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    manager = _open(args)
    state = manager.load_state(args.context, args.version)
    value = {
        "context": args.context,
        "version": state.version,
        "lastModified": state.last_modified,
        "data": state.data,
        "metadata": state.metadata,
    }

    def show() -> None:
        _table(
            ["field", "value"],
            [
                ["context", args.context],
                ["version", str(state.version)],
                ["last modified", state.last_modified],
                ["metadata", orjson.dumps(state.metadata).decode()],
            ],
        )
        print("data:")
        sys.stdout.flush()
        sys.stdout.buffer.write(orjson.dumps(value["data"], option=orjson.OPT_INDENT_2) + b"\n")

    _emit(args, value, show)
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        manager = _open(args, writable=args.discard_damaged or args.salvage)
    except StoreDamaged as damage:  # a reader does not salvage: say so, and how
        return _damaged(args, damage)
    for salvage in manager.salvages:  # --salvage just did it
        print(salvage.summary(), file=sys.stderr)
    report = manager.verify(discard_damaged=args.discard_damaged)
    value = {"ok": report.ok, "problems": report.problems, "checked": report.checked}

    def show() -> None:
        checked = ", ".join(f"{n} {kind}" for kind, n in sorted(report.checked.items()))
        if report.ok:
            print(f"ok: every row decrypts and every chain holds ({checked}).")
        else:
            print(f"DAMAGED: {len(report.problems)} problem(s) ({checked}).")
            _table(["where", "problem"], [[p["where"], p["problem"]] for p in report.problems])
            for problem in report.problems:
                if "summary" in problem:
                    print(f"{problem['summary']}")

    _emit(args, value, show)
    return 0 if report.ok else 1


SALVAGE_NEXT = (
    "the next server to open it sets it aside and salvages what can still be read; to do it now: "
    "`groundhog verify --salvage`"
)


def _damaged(args: argparse.Namespace, damage: StoreDamaged) -> int:
    problem = {
        "where": "the store file",
        "problem": f"is damaged below its rows ({damage.details.get('problem') or damage.message})",
        "next": SALVAGE_NEXT,
    }
    _emit(
        args,
        {"ok": False, "problems": [problem], "checked": {}},
        lambda: print(f"DAMAGED: the store file {problem['problem']}; {SALVAGE_NEXT}."),
    )
    return 1


def _audit(args: argparse.Namespace) -> int:
    manager = _open(args)
    records = manager.audit_records(args.limit)
    _emit(
        args,
        {"records": records},
        lambda: _table(
            ["seq", "timestamp", "event", "session", "details"],
            [
                [
                    str(r["seq"]),
                    r["timestamp"],
                    r["event"],
                    r["session"],
                    orjson.dumps(r["details"]).decode()[:80],
                ]
                for r in records
            ],
        ),
    )
    return 0


def _snapshots(args: argparse.Namespace) -> int:
    manager = _open(args)
    name = args.context or manager.last_active() or DEFAULT_CONTEXT
    rows = [snapshot_wire(s) | {"kind": s.kind} for s in manager.tracker(name).snapshots()]
    _emit(
        args,
        {"context": name, "snapshots": rows},
        lambda: _table(
            ["id", "version", "timestamp", "kind", "label"],
            [[r["id"], str(r["version"]), r["timestamp"], r["kind"], r["label"] or "-"] for r in rows],
        ),
    )
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    manager = _open(args, writable=True)
    try:
        name = args.context or context_of_snapshot(manager, args.id)
        if name is None:
            raise SnapshotNotFound(
                f"No context of this workspace has the snapshot {args.id!r}.", snapshotId=args.id
            )
        deleted = manager.tracker(name, "cli").delete_snapshot(args.id)
    finally:
        manager.close()  # the audit record (of the deletion or the refusal) is written first
    value = {"deleted": True, "id": deleted.id, "context": name}
    said = f"Deleted snapshot {deleted.id} of {name!r} (version {deleted.version})."
    _emit(args, value, lambda: print(said))
    return 0


def emit(args: argparse.Namespace, value: Any, readable: Callable[[], None]) -> None:
    """``value`` as JSON with --json, else ``readable()``."""
    _emit(args, value, readable)


def _emit(args: argparse.Namespace, value: Any, readable: Callable[[], None]) -> None:
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        readable()


def _keys(keys: Sequence[str]) -> str:
    text = ", ".join(keys[:5])
    return text + (f" (+{len(keys) - 5})" if len(keys) > 5 else "")


def table(headers: list[str], rows: list[list[str]]) -> None:
    _table(headers, rows)


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
