"""``groundhog config``: show every setting with where its value comes from, and set or unset one in
the user's configuration file (userconfig.py), which every Groundhog process reads: editors' servers,
agents' MCP servers started by hosts that pass no environment, hooks and the people commands."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

from groundhog.errors import InvalidParams
from groundhog.settings import SPECS, for_people, from_text
from groundhog.userconfig import config_path, resolve, set_value, unset_value


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "config", help="show the settings and where they come from; set or unset one", allow_abbrev=False
    )
    actions = parser.add_subparsers(dest="config_command")
    parser.add_argument("--workspace", default=".", help="show the settings of this workspace (default: .)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(run=_show)

    names = sorted(name for name, spec in SPECS.items() if spec.config)
    put = actions.add_parser("set", help="write a setting into the configuration file", allow_abbrev=False)
    put.add_argument("name", choices=names, metavar="NAME", help="one of: " + ", ".join(names))
    put.add_argument("value")
    put.add_argument("--workspace", dest="table", metavar="PATH", help="only for this workspace")
    put.set_defaults(run=_set)
    remove = actions.add_parser("unset", help="remove a setting from the configuration file")
    remove.add_argument("name", choices=names, metavar="NAME")
    remove.add_argument("--workspace", dest="table", metavar="PATH", help="from this workspace's table")
    remove.set_defaults(run=_unset)
    path = actions.add_parser("path", help="print where the configuration file is")
    path.set_defaults(run=lambda _args: _print_path())


def _show(args: argparse.Namespace) -> int:
    root = os.path.abspath(args.workspace)
    resolved = resolve(root)
    rows = []
    for name, spec in SPECS.items():
        value = getattr(resolved.settings, name)
        rows.append(
            {
                "name": name,
                "value": for_people(spec, value),
                "from": resolved.sources.get(name, "default"),
                "env": spec.env,
                "wire": spec.wire,
                "flag": spec.flag,
            }
        )
    report = {
        "path": str(resolved.config.path),
        "exists": resolved.config.exists,
        "workspace": root,
        "settings": rows,
        "problems": resolved.config.problems,
    }
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    state = "" if resolved.config.exists else "  (not there: defaults and the environment apply)"
    print(f"configuration file {resolved.config.path}{state}")
    print(f"settings for the workspace {root}:")
    width = max(len(str(row["name"])) for row in rows)
    for row in rows:
        shown = "-" if row["value"] is None else _shown(row["value"])
        print(f"  {row['name']:<{width}}  {shown}  ({row['from']})")
    for problem in resolved.config.problems:
        print(f"problem: the file's {problem}", file=sys.stderr)
    return 0


def _set(args: argparse.Namespace) -> int:
    spec = SPECS[args.name]
    value = from_text(spec, args.value)
    if spec.kind is str and not args.value:
        raise InvalidParams(f"Give {args.name!r} a value, or use `groundhog config unset {args.name}`.")
    path = set_value(args.name, value, args.table)
    where = f"the table of workspace {os.path.abspath(args.table)}" if args.table else "the top level"
    print(f"{args.name} = {_shown(value)} in {path} ({where}).")
    _warn_if_overridden(args.name)
    return 0


def _unset(args: argparse.Namespace) -> int:
    path = unset_value(args.name, args.table)
    print(f"{args.name} removed from {path}" + (f" (workspace {args.table})." if args.table else "."))
    _warn_if_overridden(args.name)
    return 0


def _warn_if_overridden(name: str) -> None:
    env = SPECS[name].env
    if env and os.environ.get(env):
        print(
            f"note: {env} is set in this shell and overrides the file for processes started from it.",
            file=sys.stderr,
        )


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _print_path() -> int:
    print(config_path())
    return 0
