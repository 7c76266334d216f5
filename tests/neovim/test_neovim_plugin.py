"""The Neovim plugin, end to end: headless Neovim 0.11 with the plugin, against the server."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from nvim_harness import ERROR, INFO, PLUGIN_DIR, WARN, LspPeer, Nvim, Workspace

import groundhog


def test_status_command_shows_the_active_context(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("status", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    status = run.data["status"]
    label = f"{status['active']['name']}@{status['active']['version']}"
    assert status["active"]["name"] == "default"
    assert run.data["attached"] is True
    assert run.data["statusline"] == f"groundhog: {label}"
    (message,) = run.messages(INFO)
    assert message.startswith(f"groundhog: {label} (session {status['session']['id']}")
    assert status["workspace"]["uri"] in message
    assert run.data["deactivated"] == "groundhog: (none)"


def test_snapshot_command_saves_a_labelled_snapshot(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("snapshot", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    labelled, api = run.data["snapshots"][1], run.data["snapshots"][0]  # newest first
    assert labelled["label"] == "before the refactor"
    assert run.data.get("api_error") is None
    assert run.data["api_result"]["id"] == api["id"]
    assert labelled["version"] == api["version"] == run.data["api_result"]["version"]
    (message,) = run.messages(INFO)
    assert labelled["id"] in message
    assert f"default@{labelled['version']}" in message


def test_rollback_command_to_a_version_a_snapshot_and_a_choice(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("rollback", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    after_version = run.data["after_version"]
    assert after_version["data"] == {"task": "parse"}
    assert after_version["head"] == after_version["v3"] + 1  # rollback appends a version
    assert run.data["after_snapshot"]["data"] == {"task": "parse"}
    head = after_version["head"]
    snapshot_id = run.data["after_snapshot"]["snapshot"]
    versions = [str(v) for v in range(head, 0, -1)]
    assert run.data["completion"][: len(versions)] == versions
    assert snapshot_id in run.data["completion"][len(versions) :]  # with the recovery point
    after_select = run.data["after_select"]
    assert after_select["data"] == {}
    assert after_select["offered"]["prompt"] == "groundhog: roll back to"
    assert any(label.startswith("v1 ") for label in after_select["offered"]["labels"])
    assert any(
        label.startswith(f"snapshot {run.data['after_snapshot']['snapshot']}")
        for label in after_select["offered"]["labels"]
    )
    kinds = [e["kind"] for e in run.data["history"]]
    assert kinds[:4] == ["rollback", "restore", "update", "rollback"]
    assert len(run.messages(INFO)) == 3
    assert "rolled back to version 2" in run.data["messages"][0]


def test_snapshot_delete_command_by_id_by_choice_and_with_bang(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("snapshot_delete", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    ids, point = run.data["ids"], run.data["point"]
    assert sorted(run.data["completion"]) == sorted(ids)  # the recovery point is not offered
    assert run.data["cancelled"].get("err") is None and run.data["cancelled"].get("result") is None
    assert ids[1] in run.data["cancelled"]["listed"]  # "Cancel" deleted nothing
    assert run.data["listed"] == [point, ids[1]]  # s1 by id, s3 picked, s4 with the bang
    prompts = run.data["prompts"]
    assert prompts[0] == f"groundhog: delete snapshot {ids[0]}? It cannot be undone"
    assert "groundhog: delete snapshot" in prompts  # the pick
    assert len(prompts) == 4  # confirm s1, confirm s2 (cancelled), pick s3, confirm s3: none for the bang
    assert run.data["refused"]["data"]["kind"] == "InvalidState"
    assert [m for m in run.messages(INFO) if "deleted" in m] == [
        f"groundhog: snapshot {i} deleted" for i in (ids[0], ids[2], ids[3])
    ]
    assert run.data["restored"]["changedKeys"] == ["n"]  # s2 still restores its data


def test_switch_command_by_name_and_by_choice(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("switch", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    assert run.data["completion"] == ["feature-x"]
    after_name = run.data["after_name"]
    assert after_name["active"]["name"] == "feature-x"
    assert after_name["statusline"] == f"groundhog: feature-x@{after_name['active']['version']}"
    after_select = run.data["after_select"]
    assert after_select["active"]["name"] == "default"
    assert after_select["statusline"] == f"groundhog: default@{after_select['active']['version']}"
    assert any(label.startswith("feature-x@") for label in after_select["offered"])
    switches = [e for e in run.events("GroundhogChanged") if e["event"] == "didSwitch"]
    assert [e["context"] for e in switches] == ["feature-x", "default"]


def test_new_command_creates_and_activates_a_context(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("new", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    assert run.data["active"] == {"name": "spike/idea-1", "version": 1}
    assert "spike/idea-1" in run.data["names"]
    (error,) = run.messages(ERROR)
    assert error.startswith("groundhog: context/create failed:")
    assert "default" in error
    assert error.endswith("(AlreadyExists)")


def test_history_command_lists_versions_newest_first(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("history", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    assert run.data["name"] == "groundhog://history/default"
    assert run.data["buftype"] == "nofile"
    assert run.data["modifiable"] is False
    rows = [line for line in run.data["lines"] if not line.startswith("#")]
    versions = [e["version"] for e in run.data["entries"]]
    assert [row.split()[0] for row in rows] == [f"v{v}" for v in versions]
    assert rows[0].endswith("two") and rows[1].endswith("one")


def test_diff_command_shows_the_patch_in_a_scratch_buffer(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("diff", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    base, head = run.data["base"], run.data["head"]
    default = run.data["default"]
    assert default["name"] == f"groundhog://diff/default/{head - 1}..{head}"
    assert default["filetype"] == "json"
    ops = {op["path"]: op for op in json.loads("\n".join(default["lines"]))}
    assert ops == {
        "/add": {"op": "add", "path": "/add", "value": [1, 2]},
        "/change": {"op": "replace", "path": "/change", "value": "new"},
        "/drop": {"op": "remove", "path": "/drop"},
    }
    explicit = run.data["explicit"]
    assert explicit["name"] == f"groundhog://diff/default/{base}..{head}"
    whole = {op["path"]: op["op"] for op in json.loads("\n".join(explicit["lines"]))}
    assert whole == {"/add": "add", "/change": "add", "/keep": "add"}
    (error,) = run.data["errors"]
    assert '"one" is not a version number' in error


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_editor_state_is_sent_throttled_with_utf16_columns(nvim: Nvim, workspace: Workspace) -> None:
    path = workspace.files["beta.py"]
    line = path.read_text(encoding="utf-8").splitlines()[1]
    word = line[: line.index("wörld")]
    emoji = line[: line.index("😀")]
    run = nvim.run(
        "tracking",
        cwd=workspace.root,
        files=[path],
        params={
            "row": 2,
            "byte_col": len(word.encode()),
            "visual_start": len(emoji.encode()),
            "visual_right": 2,  # the emoji, the space and the "w"
        },
    )
    uri = path.as_uri()
    cursor = {"line": 1, "character": utf16_len(word)}
    assert run.data["burst"] == [
        {"activeUri": uri, "selections": [{"uri": uri, "ranges": [{"start": cursor, "end": cursor}]}]}
    ]
    assert run.data["mode"] == "v"
    (visual,) = run.data["visual"]["selections"]
    assert visual["ranges"] == [
        {
            "start": {"line": 1, "character": utf16_len(emoji)},
            "end": {"line": 1, "character": utf16_len(word) + 1},
        }
    ]
    live = run.data["live"]
    assert live["activeUri"] == uri
    assert [d["uri"] for d in live["openDocuments"]] == [uri]


def save_session(nvim: Nvim, workspace: Workspace, quit_at_once: bool = False) -> dict[str, object]:
    """A first session visits three files and leaves each cursor somewhere; gamma.md last."""
    visits = [
        {"name": "alpha.txt", "row": 3, "col": 2},
        {"name": "beta.py", "row": 2, "col": len("    return 'héllo 😀 w".encode())},
        {"name": "gamma.md", "row": 4, "col": 5},
    ]
    expected = {}
    for v in visits:
        path = workspace.files[str(v["name"])]
        v["path"] = str(path)
        text = path.read_text(encoding="utf-8").splitlines()[int(v["row"]) - 1]
        prefix = text.encode()[: int(v["col"])].decode()
        expected[path.as_uri()] = {"line": int(v["row"]) - 1, "character": utf16_len(prefix)}
    nvim.run(
        "restore_save",
        cwd=workspace.root,
        files=list(workspace.files.values()),
        params={
            "visits": visits,
            "active_uri": workspace.uri("gamma.md"),
            "expected": expected,
            "quit_at_once": quit_at_once,
        },
    )
    return {str(v["path"]): [v["row"], v["col"]] for v in visits}


def test_restart_reopens_the_files_at_their_cursors(nvim: Nvim, workspace: Workspace) -> None:
    cursors = save_session(nvim, workspace)
    run = nvim.run("restore_load", cwd=workspace.root, params={"mode": "always"})
    assert run.data["prompts"] == []
    assert run.data["current"] == str(workspace.files["gamma.md"])
    assert run.data["current_cursor"] == cursors[str(workspace.files["gamma.md"])]
    assert sorted(run.data["listed"]) == sorted(cursors)
    assert run.data["cursors"] == cursors
    assert all(run.data["attached"].values())
    (restored,) = run.events("GroundhogRestored")
    assert sorted(restored["files"]) == sorted(cursors)
    assert restored["active"] == str(workspace.files["gamma.md"])
    assert restored["context"] == "default"


def test_quitting_right_after_moving_keeps_the_last_cursors(nvim: Nvim, workspace: Workspace) -> None:
    cursors = save_session(nvim, workspace, quit_at_once=True)
    run = nvim.run("restore_load", cwd=workspace.root, params={"mode": "always"})
    assert run.data["current"] == str(workspace.files["gamma.md"])
    assert run.data["cursors"] == cursors


def test_restore_asks_first_and_never_means_never(nvim: Nvim, workspace: Workspace) -> None:
    cursors = save_session(nvim, workspace)

    never = nvim.run("restore_load", cwd=workspace.root, params={"mode": "never"})
    assert never.data["prompts"] == []
    assert never.data["listed"] == [""]
    assert never.events("GroundhogRestored") == []

    declined = nvim.run("restore_load", cwd=workspace.root, params={"mode": "ask", "choice": "Not now"})
    (prompt,) = declined.data["prompts"]
    assert prompt["prompt"].startswith("groundhog: restore the last session of default@")
    assert prompt["items"] == ["Reopen 3 files", "Not now"]
    assert declined.data["listed"] == [""]
    assert declined.events("GroundhogRestored") == []

    accepted = nvim.run("restore_load", cwd=workspace.root, params={"mode": "ask", "choice": "Reopen"})
    assert len(accepted.data["prompts"]) == 1
    assert accepted.data["current"] == str(workspace.files["gamma.md"])
    assert accepted.data["cursors"] == cursors


def test_lua_api_functions_take_callbacks(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("lua_api", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    calls = run.data["calls"]
    for name in ("status", "snapshot", "rollback", "new", "switch", "history", "diff"):
        assert calls[name]["err"] is None, name
    assert calls["status"]["res"]["active"]["name"] == "default"
    assert calls["snapshot"]["res"]["label"] == "from lua"
    assert calls["rollback"]["res"]["restoredFrom"] == {"version": 1}
    assert calls["new"]["res"]["name"] == "lua-ctx"
    assert calls["switch"]["res"]["name"] == "default"
    assert len(calls["history"]["res"]["entries"]) == 2
    assert calls["diff"]["res"]["patch"] == [{"op": "add", "path": "/k", "value": "v1"}]
    assert calls["switch_missing"]["data"]["kind"] == "InvalidState"
    assert run.messages(INFO) == []


def test_missing_server_is_a_clear_error(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("missing_server", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    errors = run.messages(ERROR)
    assert len(errors) == 3
    assert errors[0].startswith(
        'groundhog: the server command "/nonexistent/bin/groundhog" is not executable'
    )
    assert errors[1].startswith("groundhog: context/status failed: the server command")
    assert run.data["clients"] == 0
    health = "\n".join(run.data["health"])
    assert 'ERROR the server command "/nonexistent/bin/groundhog" is not executable' in health
    assert errors[2].startswith(
        'groundhog: the server command "/nonexistent/bin/groundhog-lsp" is not executable'
    )
    assert run.data["clients_after_enable"] == 0


def test_checkhealth_reports_the_running_client(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("health", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    health = "\n".join(run.data["health"])
    assert "OK setup() options are valid" in health
    assert "OK server command:" in health
    assert f"OK server version {groundhog.__version__} (from configured), the plugin's version" in health
    assert f"OK current directory is in workspace {workspace.root}" in health
    assert f"workspace {workspace.root}, context default@" in health
    assert "ERROR" not in health


def test_vim_lsp_enable_uses_lsp_groundhog_lua(nvim: Nvim, workspace: Workspace) -> None:
    run = nvim.run("lsp_enable", cwd=workspace.root, files=[workspace.files["alpha.txt"]])
    assert run.data["root_dir"] == str(workspace.root)
    assert run.data["attached"] is True
    active = run.data["active"]
    assert run.data["statusline"] == f"groundhog: {active['name']}@{active['version']}"


def test_change_from_another_session_updates_the_statusline(
    nvim: Nvim, workspace: Workspace, peer_factory: Callable[[Path], LspPeer], tmp_path: Path
) -> None:
    ready = tmp_path / "nvim-ready"
    proc, result_path = nvim.start(
        "remote",
        cwd=workspace.root,
        files=[workspace.files["alpha.txt"]],
        params={"ready_path": str(ready)},
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "nvim never became ready"
    peer = peer_factory(workspace.root)
    peer_session = peer.request("context/status", {})["session"]["id"]
    version = peer.request("context/update", {"set": {"from another process": True}})["version"]
    run = nvim.finish(proc, result_path)
    assert run.returncode == 0, f"{run.error}\n{run.stderr}"
    assert run.data["before"] == f"groundhog: default@{version - 1}"
    assert run.data["after"] == f"groundhog: default@{version}"
    changes = [e for e in run.events("GroundhogChanged") if e["version"] == version]
    assert len(changes) == 1
    assert changes[0]["session"] == peer_session != run.data["session"]
    assert changes[0]["changedKeys"] == ["from another process"]


def test_help_file_has_a_tag_for_every_command_and_option(nvim: Nvim, tmp_path: Path) -> None:
    doc_dir = tmp_path / "helpdoc" / "doc"
    shutil.copytree(PLUGIN_DIR / "doc", doc_dir)
    run = nvim.run("helptags", cwd=tmp_path, params={"doc_dir": str(doc_dir)})
    tags = {line.split("\t")[0] for line in run.data["tags"]}
    commands = ["Install", "Status", "Snapshot", "SnapshotDelete", "Rollback", "Switch", "New", "History"]
    commands.append("Diff")
    assert {f":Groundhog{c}" for c in commands} <= tags
    options = ["cmd", "cmd_env", "root_markers", "autostart", "restore", "throttle_ms"]
    options += ["track_editor", "init_options", "python", "server_package"]
    assert {f"groundhog-opt-{o}" for o in options} <= tags
    assert {"groundhog.setup()", "groundhog.statusline()", "GroundhogChanged"} <= tags
    assert "*:GroundhogDiff*" in run.data["help_line"]


def test_invalid_options_warn_once_and_keep_defaults(nvim: Nvim, tmp_path: Path) -> None:
    run = nvim.run("options", cwd=tmp_path)
    (warning,) = run.messages(WARN)
    assert warning.startswith("groundhog: invalid setup() options:")
    assert 'option "restore" must be "always", "ask" or "never", got "sometimes"' in warning
    assert 'option "throttle_ms" must be a non-negative integer, got -5' in warning
    assert 'unknown option "colour"' in warning
    options, defaults = run.data["options"], run.data["defaults"]
    assert options["restore"] == defaults["restore"] == "ask"
    assert options["throttle_ms"] == defaults["throttle_ms"]
    assert options["autostart"] is False
    assert run.data["valid"]["restore"] == "always"
    assert run.data["valid"]["throttle_ms"] == 120


def test_diff_and_history_views_of_a_state_at_the_64_mb_limit(nvim: Nvim, workspace: Workspace) -> None:
    """snapshotMaxBytes at its maximum: four 15 MiB values (~60 MiB), then a one-character edit.
    The diff of the edit holds the whole new value on one line; the diff over the history holds
    all four values whole; the history lists every version."""
    part = 15 * 1024 * 1024
    run = nvim.run(
        "large_diff",
        cwd=workspace.root,
        files=[workspace.files["alpha.txt"]],
        params={"part_bytes": part, "watchdog_ms": 170_000},
        timeout=180,
    )
    first, head = run.data["first"], run.data["head"]
    last = run.data["last"]
    assert last["name"] == f"groundhog://diff/default/{head - 1}..{head}"
    # "[", the replace op with the value whole ("value": "yyy...!"}), "]"
    assert last["sizes"][0] == 1 and last["sizes"][2] == 1 and last["sizes"][1] > part
    assert last["tail"] == "y" * 9 + '!"}'  # the value's end, with the edit
    whole = run.data["whole"]
    assert whole["name"] == f"groundhog://diff/default/{first}..{head}"
    assert sorted((op["path"], op["op"], op["bytes"]) for op in whole["ops"]) == [
        ("/part0", "add", part + 1),
        ("/part1", "add", part),
        ("/part2", "add", part),
        ("/part3", "add", part),
    ]
    history = "\n".join(run.data["history"]["lines"])
    assert all(f"v{version}" in history for version in range(first, head + 1)), history
