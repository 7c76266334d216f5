"""The people CLI for a workspace's members (store/membership.py, docs/team.md):

    groundhog members                      who may open the workspace (name, fingerprint, added by, when)
    groundhog members add NAME PUBLIC_KEY  any member adds one (a single-key workspace gets members)
    groundhog members remove NAME          a new data key for those who stay
    groundhog members start [--name NAME]  a single-key workspace gets members, this machine first
    groundhog key show-public              this machine's member key, to give to a member
    groundhog key new-member               a member key for CI (GROUNDHOG_MEMBER_KEY), printed

Each works on the shared store and on the embedded one alike (a laptop and a dev container as two
members of one store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from groundhog import people
from groundhog.manager import ContextManager
from groundhog.member_keys import (
    MEMBER_NAME_ENV,
    MemberInfo,
    default_member_name,
    new_member_secret,
    public_key,
)
from groundhog.userconfig import default_config_dir, resolve


def add_commands(commands: Any) -> None:
    parser = people.command(commands, "members", "who may open the workspace; add or remove one", _list)
    actions = parser.add_subparsers(dest="members_command")
    add = people.command(actions, "add", "make the holder of a member key a member", _add)
    add.add_argument("name", help="the new member's name (1-64 letters, digits, spaces, '._@+-')")
    add.add_argument("public_key", metavar="PUBLIC_KEY", help="their `groundhog key show-public`")
    remove = people.command(actions, "remove", "remove a member (a new data key for the others)", _remove)
    remove.add_argument("name")
    start = people.command(
        actions, "start", "a single-key workspace gets members, this machine first", _start
    )
    start.add_argument(
        "--name", help=f"this machine's member name (default: {MEMBER_NAME_ENV}, else user@host)"
    )


def add_key_commands(key_commands: Any) -> None:
    """``groundhog key show-public | new-member`` (store/members.py)."""
    show = key_commands.add_parser("show-public", help="this machine's member key (made on first use)")
    show.set_defaults(run=_show_public)
    new = key_commands.add_parser("new-member", help="a new member key for a build machine, printed")
    new.set_defaults(run=_new_member)


def _open(args: argparse.Namespace) -> ContextManager:
    return people.open_manager(args, writable=args.members_command is not None)


def _list(args: argparse.Namespace) -> int:
    listed = _open(args).members()
    if not listed and not args.json:
        print(
            "No members: this workspace opens with one shared key. `groundhog members add NAME KEY` "
            "(or `members start`) makes this machine its first member."
        )
        return 0
    _show(args, listed)
    return 0


def _add(args: argparse.Namespace) -> int:
    listed = _open(args).add_member(args.name, args.public_key, session="cli")
    _show(args, listed)
    if not args.json:
        print(f"{args.name} can open the workspace now, on the machine holding that key.", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    listed = _open(args).remove_member(args.name, session="cli")
    _show(args, listed)
    if not args.json:
        print(
            f"Removed {args.name}: what is written from now on uses a new key they do not hold; what "
            "was written before stays readable to them with a copy of the database (nothing is "
            "re-encrypted). Revoke their database login too.",
            file=sys.stderr,
        )
    return 0


def _start(args: argparse.Namespace) -> int:
    name = default_member_name(args.name or resolve(people.root(args)).settings.member_name)
    _show(args, _open(args).start_members(name, session="cli"))
    return 0


def _show(args: argparse.Namespace, listed: list[MemberInfo]) -> None:
    rows: list[dict[str, Any]] = [
        {"name": m.name, "fingerprint": m.fingerprint, "addedBy": m.added_by, "added": m.added, "you": m.you}
        for m in listed
    ]
    people.emit(
        args,
        {"members": rows},
        lambda: people.table(
            ["name", "fingerprint", "added by", "added"],
            [
                [m.name + (" (you)" if m.you else ""), m.fingerprint, m.added_by or "-", m.added]
                for m in listed
            ],
        ),
    )


def _show_public(args: argparse.Namespace) -> int:
    public, fingerprint = public_key(default_config_dir())
    print(public)
    print(
        f"Fingerprint {fingerprint}. A member adds this machine with "
        "`groundhog members add NAME <the line above>`.",
        file=sys.stderr,
    )
    return 0


def _new_member(args: argparse.Namespace) -> int:
    secret, public, variable = new_member_secret()
    print(secret)
    print(
        f"Keep the line above secret (a CI secret: {variable}). Its public key, for "
        f"`groundhog members add NAME ...`: {public}",
        file=sys.stderr,
    )
    return 0
