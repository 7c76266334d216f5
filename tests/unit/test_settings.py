"""One declaration per setting (settings.py), and everything derived from it: the editors' options,
the flags, the configuration file, the documentation and the VS Code extension's settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from groundhog.cli import _parser
from groundhog.errors import AccessDenied, InvalidParams
from groundhog.flags import given
from groundhog.settings import BY_WIRE, DEFAULTS, SPECS, options_table, parse_wire, problem, with_overrides
from groundhog.userconfig import read_config, resolve, set_value, unset_value
from groundhog.workspace import canonical_root

ROOT = Path(__file__).resolve().parents[2]


def test_every_declaration_is_whole_and_its_default_obeys_its_own_rule() -> None:
    wires = [spec.wire for spec in SPECS.values() if spec.wire]
    envs = [spec.env for spec in SPECS.values() if spec.env]
    assert len(wires) == len(set(wires)) and len(envs) == len(set(envs))
    for spec in SPECS.values():
        assert spec.help and spec.name
        if spec.kind is int:
            assert spec.bounds is not None, spec.name
        if spec.default is not None:
            assert problem(spec, spec.default) is None, spec.name
    for command in ("serve", "mcp", "people", "doctor"):
        flags = [spec.flag for spec in SPECS.values() if spec.flag and command in spec.commands]
        assert len(flags) == len(set(flags)), command


def test_the_editors_options_are_checked_by_the_declaration_and_a_bad_one_keeps_its_default() -> None:
    chosen, problems = parse_wire(
        {"historyLimit": 0, "readOnly": "yes", "colour": 1, "snapshotMaxBytes": 4096, "storeDir": "~/s"}
    )
    assert chosen.history_limit == DEFAULTS.history_limit and chosen.read_only is False
    assert chosen.snapshot_max_bytes == 4096 and chosen.store_dir == os.path.expanduser("~/s")
    assert any("'historyLimit' must be an integer from 1 to" in text for text in problems)
    assert any("'readOnly' must be true or false" in text for text in problems)
    assert any("unknown option 'colour'" in text for text in problems)
    secret, problems = parse_wire({"token": 5})
    assert secret.token is None and all("5" not in text for text in problems)


@for_all(
    st.dictionaries(st.sampled_from(sorted(BY_WIRE)), st.none() | st.booleans() | st.integers() | st.text())
)
def test_any_options_object_gives_settings_that_each_obey_their_rule(raw: dict[str, object]) -> None:
    chosen, problems = parse_wire(raw)
    for spec in SPECS.values():
        value = getattr(chosen, spec.name)
        assert value is None or problem(spec, value) is None
    assert len(problems) <= len(raw)


def test_library_overrides_name_the_field_of_a_bad_value() -> None:
    assert with_overrides(DEFAULTS, {"history_limit": 7}).history_limit == 7
    with pytest.raises(InvalidParams) as raised:
        with_overrides(DEFAULTS, {"feed_keep": 1})
    assert raised.value.details["field"] == "feedKeep"
    with pytest.raises(InvalidParams):
        with_overrides(DEFAULTS, {"no_such_setting": 1})


def test_sources_in_order_default_file_workspace_table_environment_flag(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    workspace = tmp_path / "w"
    config.write_text(
        f'history_limit = 10\nfeed_keep = 500\naudit_keep = 50\n\n[workspace."{workspace}"]\n'
        'feed_keep = 600\nworkspace_id = "acme/w"\naudit_keep = 60\n'
    )
    config.chmod(0o600)
    file = read_config(config)
    resolved = resolve(workspace, {"audit_keep": 70}, environ={"GROUNDHOG_HOME": "/srv/h"}, config=file)
    chosen = resolved.settings
    assert (chosen.history_limit, chosen.feed_keep, chosen.audit_keep) == (10, 600, 70)
    assert (chosen.workspace_id, chosen.store_dir, chosen.recovery_points_keep) == ("acme/w", "/srv/h", 20)
    assert resolved.sources["history_limit"].startswith("config file")
    assert "workspace table" in resolved.sources["feed_keep"]
    assert resolved.sources["store_dir"] == "environment (GROUNDHOG_HOME)"
    assert resolved.sources["audit_keep"] == "flag (--audit-keep)"
    elsewhere = resolve(tmp_path / "other", environ={}, config=file).settings
    assert (elsewhere.feed_keep, elsewhere.workspace_id) == (500, None)


def test_set_and_unset_keep_the_rest_of_the_file_and_read_back(tmp_path: Path) -> None:
    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir(mode=0o700)
    config.write_text('# my settings\nhistory_limit = 10  # kept\n\n[workspace."/x"]\nfeed_keep = 200\n')
    config.chmod(0o600)
    set_value("store_url", "postgresql://me@db/team", path=config)
    set_value("history_limit", 20, path=config)
    set_value("workspace_id", "acme/x", workspace="/x", path=config)
    set_value("audit_keep", 99, workspace=str(tmp_path / "new"), path=config)
    text = config.read_text()
    assert text.startswith("# my settings\n") and "history_limit = 20\n" in text
    file = read_config(config)
    assert file.top == {"history_limit": 20, "store_url": "postgresql://me@db/team"}
    assert file.workspaces["file:///x"] == {"feed_keep": 200, "workspace_id": "acme/x"}
    assert file.workspaces[(tmp_path / "new").as_uri()] == {"audit_keep": 99}
    unset_value("store_url", path=config)
    unset_value("feed_keep", workspace="/x", path=config)
    file = read_config(config)
    assert file.top == {"history_limit": 20} and file.workspaces["file:///x"] == {"workspace_id": "acme/x"}
    assert os.stat(config).st_mode & 0o777 == 0o600
    odd = '/tmp/a "quoted" dir\\with [brackets]'
    set_value("audit_keep", 12, workspace=odd, path=config)
    set_value("audit_keep", 13, workspace=odd, path=config)
    assert read_config(config).workspaces[canonical_root(odd)] == {"audit_keep": 13}


@pytest.mark.parametrize(
    ("name", "value", "workspace"),
    [
        ("history_limit", 0, None),
        ("store_url", "postgresql://me:secret@db/team", None),
        ("store_url", "/srv/db", None),
        ("store_dir", "/s", "/x"),  # one store directory for every workspace
        ("token", "t", None),  # secrets stay out of the file
    ],
)
def test_set_refuses_what_no_process_could_use_and_leaves_the_file(
    tmp_path: Path, name: str, value: object, workspace: str | None
) -> None:
    config = tmp_path / "config.toml"
    with pytest.raises(InvalidParams):
        set_value(name, value, workspace=workspace, path=config)
    assert not config.exists()


def test_an_invalid_store_choice_in_the_file_stops_and_other_bad_values_are_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('history_limit = "many"\ncolour = 1\n')
    config.chmod(0o600)
    file = read_config(config)
    assert file.top == {} and len(file.problems) == 2
    for text in ('store_url = "mysql://x"\n', 'store_dir = "relative"\n', "not toml = = 1\n"):
        config.write_text(text)
        with pytest.raises(InvalidParams):
            read_config(config)


def test_a_file_others_could_change_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("history_limit = 10\n")
    config.chmod(0o620)
    with pytest.raises(AccessDenied, match="writable by other users"):
        read_config(config)
    config.chmod(0o600)
    link = tmp_path / "linked.toml"
    link.symlink_to(config)
    with pytest.raises(AccessDenied, match="symbolic link"):
        read_config(link)


def test_flags_derive_from_the_declarations_and_check_their_values() -> None:
    args = _parser().parse_args(["serve", "--history-limit", "5", "--store", "postgresql://h/d"])
    assert given(args, "serve") == {"history_limit": 5, "store_url": "postgresql://h/d"}
    args = _parser().parse_args(["status", "--store-dir", "relative/dir"])
    assert given(args, "people") == {"store_dir": os.path.abspath("relative/dir")}
    with pytest.raises(SystemExit):
        _parser().parse_args(["mcp", "--max-result-bytes", "10"])


def test_the_options_page_is_the_declarations_table() -> None:
    page = (ROOT / "docs" / "options.md").read_text()
    assert options_table() in page, "regenerate docs/options.md's table from settings.options_table()"


def test_the_vscode_settings_agree_with_the_declarations() -> None:
    """Each VS Code setting named after an option has its default and stays within its range."""
    package = json.loads((ROOT / "clients" / "vscode" / "package.json").read_text())
    properties = package["contributes"]["configuration"]["properties"]
    checked = 0
    for key, schema in properties.items():
        spec = BY_WIRE.get(key.removeprefix("groundhog."))
        if spec is None:
            continue
        checked += 1
        expected = {int: "integer", bool: "boolean", str: "string"}[spec.kind]
        assert schema["type"] == expected, key
        if spec.default is not None:
            assert schema["default"] == spec.default, key
        if spec.bounds is not None:
            assert spec.bounds[0] <= schema["minimum"] <= schema["maximum"] <= spec.bounds[1], key
    assert checked >= 5
