"""The people CLI for a shared (PostgreSQL) store: ``groundhog store init`` sets a database up once;
``groundhog key export | import | rotate`` move a workspace's key between its members (a string
for a password manager), never through the database; ``key rotate-master`` replaces this machine's
master key (store/rotation.py). See docs/team.md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from groundhog import team
from groundhog.errors import InvalidParams, InvalidState, PersistenceError
from groundhog.opening import create_manager
from groundhog.settings import SPECS
from groundhog.userconfig import default_store_dir, resolve
from groundhog.workspace import is_postgres_url, shared_workspace_id
from groundhog.workspace_keys import (
    WORKSPACE_KEY_ENV,
    describe_store_url,
    exported_key,
    import_key,
    init_shared_database,
    rotate_master,
    rotate_workspace_key,
)


def add_commands(commands: Any) -> None:
    store = commands.add_parser("store", help="set up a shared PostgreSQL store", allow_abbrev=False)
    store_commands = store.add_subparsers(dest="store_command", required=True)
    init = store_commands.add_parser(
        "init", help="create Groundhog's schema in a database (once per database)", allow_abbrev=False
    )
    _store_option(init)
    init.set_defaults(run=_init)

    key = commands.add_parser(
        "key",
        help="keys: a shared workspace's, this machine's member key, the master key",
        allow_abbrev=False,
    )
    key_commands = key.add_subparsers(dest="key_command", required=True)
    export = key_commands.add_parser("export", help="print the workspace's key (for a password manager)")
    _workspace_options(export)
    export.set_defaults(run=_export)
    imported = key_commands.add_parser("import", help="keep a workspace key on this machine")
    imported.add_argument("key", nargs="?", help="the exported string (default: read from stdin)")
    imported.set_defaults(run=_import)
    rotate = key_commands.add_parser(
        "rotate", help="a new workspace key: the old one no longer opens the workspace"
    )
    _workspace_options(rotate)
    _store_option(rotate)
    rotate.set_defaults(run=_rotate)
    master = key_commands.add_parser(
        "rotate-master", help="a new master key for this machine's stores (the old one opens none)"
    )
    master.add_argument("--store-dir", help="where workspace stores live (default: GROUNDHOG_HOME)")
    master.set_defaults(run=_rotate_master)
    team.add_key_commands(key_commands)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="URL", type=store_url, help="the PostgreSQL URL (default: GROUNDHOG_STORE_URL)"
    )


def store_url(text: str) -> str:
    """``--store``'s value: a PostgreSQL URL (a directory belongs in --store-dir)."""
    if not is_postgres_url(text):
        raise argparse.ArgumentTypeError("must be a postgresql://user@host:port/database URL")
    return text


def _workspace_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default=".", help="the workspace root (default: .)")
    parser.add_argument("--workspace-id", metavar="ID", help="the workspace's name in the shared store")


def _url(args: argparse.Namespace) -> str:
    """--store, else what the environment or the configuration file says (settings.py)."""
    root = os.path.abspath(getattr(args, "workspace", "."))
    url = args.store or resolve(root).settings.store_url
    if not url or not is_postgres_url(url):
        env = SPECS["store_url"].env
        raise InvalidParams(
            f"Give the database as --store postgresql://... (or set {env}, or `groundhog config set "
            "store_url ...`).",
            field="store",
        )
    return str(url)


def _workspace_id(args: argparse.Namespace) -> str:
    root = os.path.abspath(args.workspace)
    explicit = args.workspace_id or resolve(root).settings.workspace_id
    try:
        return shared_workspace_id(root, explicit)
    except ValueError as error:
        raise InvalidParams(str(error), field="workspaceId") from None


def _init(args: argparse.Namespace) -> int:
    url = _url(args)
    done = init_shared_database(url)
    print(f"{describe_store_url(url)}: {done}. Servers given this URL now share their workspaces there.")
    return 0


def _export(args: argparse.Namespace) -> int:
    workspace_id = _workspace_id(args)
    line = exported_key(workspace_id)
    if line is None and not resolve(os.path.abspath(args.workspace)).settings.store_url:
        raise InvalidState(
            "The embedded store has no workspace key to export: another machine sharing its store "
            "directory joins as a member (there `groundhog key show-public`, here `groundhog members "
            "add NAME <that line>`)."
        )
    if line is None:
        raise PersistenceError(
            "This machine has no shared key for this workspace: a workspace with members has none "
            "(on the other machine `groundhog key show-public`, then here `groundhog members add`)."
        )
    print(line)
    print(
        "Keep this in a password manager: with it and access to the database, anyone reads this workspace.",
        file=sys.stderr,
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    text = args.key if args.key is not None else sys.stdin.readline()
    workspace_id, path = import_key(text)
    print(f"Imported the key of workspace {workspace_id} into {path}.")
    here = _folder_workspace_id()
    if here is not None and here != workspace_id:
        print(
            f"Note: the current folder is workspace {here}; to open the imported one from here, "
            "give servers its workspace id (--workspace-id / workspaceId) or open its checkout.",
            file=sys.stderr,
        )
    return 0


def _folder_workspace_id() -> str | None:
    try:
        return shared_workspace_id(os.getcwd())
    except (ValueError, OSError):
        return None


def _rotate(args: argparse.Namespace) -> int:
    workspace = os.path.abspath(args.workspace)
    manager = create_manager(
        workspace,
        store_url=_url(args),
        workspace_id=args.workspace_id or resolve(workspace).settings.workspace_id,
        session="cli",
        create_key=False,
    )
    try:
        rotate_workspace_key(manager, _print_now)
    finally:
        manager.close()
    print(
        "Rotated: the old key no longer opens the workspace. Give the new one (above) to the members "
        f"who stay (`groundhog key import`){_env_note()}.",
        file=sys.stderr,
    )
    return 0


def _print_now(line: str) -> None:
    print(line)
    sys.stdout.flush()


def _env_note() -> str:
    if os.environ.get(WORKSPACE_KEY_ENV):
        return f", and update {WORKSPACE_KEY_ENV} where it is set"
    return ""


def _rotate_master(args: argparse.Namespace) -> int:
    store_dir = Path(args.store_dir) if args.store_dir else default_store_dir()
    done = rotate_master(store_dir)
    for workspace_id, why in sorted(done.failed.items()):
        print(f"groundhog: the store of workspace {workspace_id} was not re-wrapped: {why}", file=sys.stderr)
    if not done.done:
        print(
            "groundhog: the old master key stays in use until every store is re-wrapped; fix the stores "
            "above (`groundhog verify`) and run `groundhog key rotate-master` again.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Rotated the master key: {len(done.rewrapped)} store(s) re-wrapped; the old key opens none of "
        "them now (a copy of a store taken before still opens with it: see docs/data.md).",
        file=sys.stderr,
    )
    return 0
