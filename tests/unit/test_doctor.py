"""`groundhog doctor`: a healthy set-up passes with every field filled in; each broken one (a key file
others may write, a directory of another user, a directory anyone may swap, a missing or damaged key)
exits 1 naming the problem and its fix; and nothing is ever created or changed, not even a mode the
server itself would tighten. Its verdicts agree with the server's own checks (store/paths.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from groundhog import AccessDenied, __version__, create_manager
from groundhog.cli import main
from groundhog.files_report import Findings, _judge_dir, judge_file
from groundhog.store.paths import check_private_file, ensure_private_dir

NOBODY = 65534
NEEDS_ROOT = "giving a directory to another user needs root"


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store"
        self.config = root / "config"
        self.workspace = root / "workspace"
        self.key = self.config / "master.key"
        self.workspace.mkdir(parents=True)

    def make_store(self) -> None:
        manager = create_manager(self.workspace, store_dir=self.store, config_dir=self.config)
        manager.create_context("default")
        manager.close()

    def database(self) -> Path:
        (database,) = self.store.rglob("store.db")
        return database

    def doctor(self, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
        code = main(["doctor", "--json", "--workspace", str(self.workspace), *extra])
        return code, json.loads(capsys.readouterr().out)

    def tree(self) -> dict[str, tuple[int, int, int, int]]:
        """Every path under the set-up with its mode, owner, size and mtime: any write shows."""
        found: dict[str, tuple[int, int, int, int]] = {}
        for directory, names, files in os.walk(self.root):
            for name in [".", *names, *files]:
                path = Path(directory) / name
                info = os.lstat(path)
                found[str(path)] = (info.st_mode, info.st_uid, info.st_size, info.st_mtime_ns)
        return found


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    made = Setup(tmp_path / "t")
    monkeypatch.setenv("GROUNDHOG_HOME", str(made.store))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(made.config))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real editor configuration is read
    return made


def subjects(report: dict[str, Any]) -> list[str]:
    return [problem["subject"] for problem in report["problems"]]


def test_a_healthy_setup_passes_with_every_field(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.make_store()
    before = setup.tree()
    code, report = setup.doctor(capsys)
    assert code == 0, report["problems"]
    assert report["ok"] is True and report["problems"] == []
    versions = report["versions"]
    assert versions["groundhog"] == __version__
    for name in ("python", "sqlite", "pygls", "mcp"):
        assert versions[name], name
    assert Path(report["server"]["module"]) == Path(sys.modules["groundhog"].__file__ or "").resolve().parent
    assert report["server"]["python"] == sys.executable
    assert (
        report["storeDir"] | {"from": "environment (GROUNDHOG_HOME)", "exists": True, "mode": "0700"}
        == report["storeDir"]
    )
    assert report["storeDir"]["path"] == str(setup.store)
    assert report["storeDir"]["uid"] == os.geteuid()
    assert report["configDir"]["path"] == str(setup.config) and report["configDir"]["mode"] == "0700"
    assert report["masterKey"]["exists"] is True and report["masterKey"]["mode"] == "0600"
    workspace = report["workspace"]
    assert workspace["root"] == str(setup.workspace)
    assert workspace["uri"] == setup.workspace.as_uri()
    assert workspace["store"]["exists"] is True and workspace["store"]["path"] == str(setup.database())
    assert setup.tree() == before


def test_a_new_machine_is_healthy_and_doctor_creates_nothing(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    before = setup.tree()
    code, report = setup.doctor(capsys)
    assert code == 0, report["problems"]
    assert report["masterKey"]["exists"] is False and report["workspace"]["store"]["exists"] is False
    assert any("No master key yet" in note["note"] for note in report["notes"])
    assert setup.tree() == before
    assert not setup.store.exists() and not setup.config.exists()


@pytest.mark.parametrize(
    ("mode", "verb"),
    [(0o666, "writable"), (0o620, "writable"), (0o644, "readable"), (0o640, "readable"), (0o604, "readable")],
)
def test_a_key_file_others_may_read_or_write_is_a_problem(
    setup: Setup, capsys: pytest.CaptureFixture[str], mode: int, verb: str
) -> None:
    """OpenSSH refuses a private key others may read: so do the server and doctor, and neither
    quietly tightens it (that would hide that the key may have been copied)."""
    setup.make_store()
    os.chmod(setup.key, mode)
    before = setup.tree()
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["master key"]
    (problem,) = report["problems"]
    assert f"master key file is {verb} by other users (mode {mode:04o})" in problem["problem"]
    assert "may have been copied" in problem["problem"]
    assert "Rotate it" in problem["fix"] and "groundhog key rotate-master" in problem["fix"]
    assert str(setup.key) in problem["fix"]
    assert setup.tree() == before  # not tightened: doctor only looks
    with pytest.raises(AccessDenied, match=f"{verb} by other users.*rotate it"):  # the server agrees
        create_manager(setup.workspace, store_dir=setup.store, config_dir=setup.config)
    assert stat.S_IMODE(os.stat(setup.key).st_mode) == mode, "the server did not tighten it either"


def test_a_mode_the_server_would_tighten_is_a_note_and_left_alone(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.make_store()
    os.chmod(setup.database(), 0o644)
    os.chmod(setup.database().parent, 0o755)
    code, report = setup.doctor(capsys)
    assert code == 0, report["problems"]
    notes = " ".join(note["note"] for note in report["notes"])
    assert "mode 0644; the server sets it to 0600" in notes and "mode 0755" in notes
    assert stat.S_IMODE(os.stat(setup.database()).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(setup.database().parent).st_mode) == 0o755


def test_a_token_others_may_read_is_a_problem(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.make_store()
    token = setup.config / "token"
    token.write_text("secret\n")
    os.chmod(token, 0o644)
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["transport token"]
    assert "delete it and restart the server" in report["problems"][0]["fix"]


def test_a_directory_everyone_may_write_above_the_store_is_a_problem(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.make_store()
    open_dir = setup.root / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    monkeypatch.setenv("GROUNDHOG_HOME", str(open_dir / "store"))
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["store"]
    (problem,) = report["problems"]
    assert "every user may write" in problem["problem"]
    assert f"chmod o-w {open_dir}" in problem["fix"]
    assert not (open_dir / "store").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason=NEEDS_ROOT)
def test_a_store_dir_planted_by_another_user_is_a_problem(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.make_store()
    os.chown(setup.store, NOBODY, NOBODY)
    before = setup.tree()
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["store"]
    (problem,) = report["problems"]
    assert "inside a directory of another user" in problem["problem"]
    assert str(setup.store) in problem["fix"] and "GROUNDHOG_HOME" in problem["fix"]
    assert setup.tree() == before


@pytest.mark.skipif(os.geteuid() != 0, reason=NEEDS_ROOT)
def test_files_and_directories_of_another_user_are_problems(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.make_store()
    os.chown(setup.key, NOBODY, NOBODY)
    os.chown(setup.database(), NOBODY, NOBODY)
    os.chown(setup.config, NOBODY, NOBODY)
    code, report = setup.doctor(capsys)
    assert code == 1
    text = json.dumps(report["problems"])
    assert "The key directory belongs to another user" in text
    assert "The master key file belongs to another user" in text
    assert "The store file belongs to another user" in text
    assert os.stat(setup.key).st_uid == NOBODY  # untouched


def test_a_missing_key_with_stores_is_a_problem(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.make_store()
    setup.key.unlink()
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["master key"]
    assert "missing" in report["problems"][0]["problem"] and "backup" in report["problems"][0]["fix"]
    assert not setup.key.exists()  # never a new key: it would read nothing


def test_a_damaged_or_linked_key_is_a_problem(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.make_store()
    real = setup.key.read_bytes()
    setup.key.write_bytes(b"not a key\n")
    code, report = setup.doctor(capsys)
    assert code == 1 and "damaged" in report["problems"][0]["problem"]
    setup.key.unlink()
    elsewhere = setup.root / "key-elsewhere"
    elsewhere.write_bytes(real)
    os.chmod(elsewhere, 0o600)
    setup.key.symlink_to(elsewhere)
    code, report = setup.doctor(capsys)
    assert code == 1 and "symbolic link" in report["problems"][0]["problem"]


def test_configured_agents_are_listed(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    (setup.workspace / ".mcp.json").write_text('{"mcpServers": {"groundhog": {"command": "groundhog"}}}')
    code, report = setup.doctor(capsys)
    assert code == 0
    assert {"client": "Claude Code (project)", "where": str(setup.workspace / ".mcp.json")} in report[
        "clients"
    ]


@pytest.mark.parametrize("secret", [False, True], ids=["file", "secret"])
@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640, 0o644, 0o660, 0o606, 0o666, 0o700, 0o610])
def test_file_verdicts_agree_with_the_server(tmp_path: Path, mode: int, secret: bool) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"x")
    os.chmod(path, mode)
    found = Findings()
    rotate = "make a new one" if secret else None
    verdict = judge_file(path, "The file", "file", found, rotate)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    fd = os.open(path, os.O_RDONLY)
    try:
        check_private_file(fd, path, "The file", rotate=rotate)
        server_accepts = True
    except AccessDenied:
        server_accepts = False
    finally:
        os.close(fd)
    assert verdict == server_accepts == (not found.problems)
    if secret:
        assert server_accepts == (mode & 0o066 == 0)


@pytest.mark.parametrize(
    ("mode", "parent_mode"), [(0o700, 0o755), (0o755, 0o755), (0o777, 0o755), (0o700, 0o777)]
)
def test_directory_verdicts_agree_with_the_server(tmp_path: Path, mode: int, parent_mode: int) -> None:
    parent = tmp_path / "parent"
    path = parent / "dir"
    path.mkdir(parents=True)
    os.chmod(path, mode)
    os.chmod(parent, parent_mode)
    found = Findings()
    verdict = _judge_dir(path, "The directory", "dir", "GROUNDHOG_HOME", found)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    try:
        ensure_private_dir(path, "The directory")
        server_accepts = True
    except AccessDenied:
        server_accepts = False
    assert verdict == server_accepts == (not found.problems)


def test_the_command_prints_each_problem_with_its_fix(setup: Setup) -> None:
    setup.make_store()
    os.chmod(setup.key, 0o666)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "groundhog", "doctor", "--workspace", str(setup.workspace)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "1 problem(s):" in done.stdout and "fix: Rotate it (`chmod 600` it" in done.stdout
    assert f"workspace  {setup.workspace}" in done.stdout
    assert done.stderr == ""


# -- the server's log ------------------------------------------------------------------------------


def lsp_frames(*messages: dict[str, Any]) -> bytes:
    bodies = [json.dumps({"jsonrpc": "2.0", **m}).encode() for m in messages]
    return b"".join(b"Content-Length: %d\r\n\r\n" % len(body) + body for body in bodies)


def server_log_with_a_refusal(setup: Setup) -> tuple[Path, Path]:
    """Run the real server with --log-file on a store under a directory anyone may write: it refuses
    the store and logs why. Returns the log and that directory."""
    open_dir = setup.root / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    log = setup.root / "server.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "GROUNDHOG_HOME": str(open_dir / "store")}
    messages = lsp_frames(
        {
            "id": 1,
            "method": "initialize",
            "params": {"rootUri": setup.workspace.as_uri(), "capabilities": {}},
        },
        {"method": "exit"},
    )
    subprocess.run(
        [sys.executable, "-m", "groundhog", "serve", "--log-file", str(log)],
        input=messages,
        env=env,
        cwd=setup.workspace,
        capture_output=True,
        timeout=60,
    )
    return log, open_dir


def test_the_last_errors_of_the_servers_log_are_shown(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.make_store()
    log, open_dir = server_log_with_a_refusal(setup)
    code, report = setup.doctor(capsys, "--log-file", str(log))
    assert code == 0, report["problems"]  # the log is history: shown, not a problem of this set-up
    assert report["log"]["path"] == str(log) and report["log"]["mode"] == "0600"
    entries = report["log"]["entries"]
    assert any(f"WARNING groundhog.store.dirs: refused {open_dir}/store" in e for e in entries), entries
    assert all(" WARNING " in e or " ERROR " in e or " CRITICAL " in e for e in entries)
    assert main(["doctor", "--workspace", str(setup.workspace), "--log-file", str(log)]) == 0
    text = capsys.readouterr().out
    assert f"log        {log}  (" in text and "last errors and warnings" in text
    assert f"WARNING groundhog.store.dirs: refused {open_dir}/store" in text


def test_only_the_end_of_a_large_log_is_read(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    log = setup.root / "big.log"
    filler = "2026-11-30 10:00:00,000 INFO groundhog.lsp.server: " + "x" * 100 + "\n"
    with open(log, "w", encoding="utf-8") as handle:
        handle.write("2026-11-30 09:00:00,000 ERROR groundhog.lsp.server: early, far from the end\n")
        handle.write(filler * 50_000)  # ~7.5 MB
        for n in range(12):
            handle.write(f"2026-11-30 11:00:{n:02d},000 WARNING groundhog.lsp.server: late {n}\n")
        handle.write("2026-11-30 11:01:00,000 INFO groundhog.lsp.server: fine again\n")
    os.chmod(log, 0o600)
    code, report = setup.doctor(capsys, "--log-file", str(log))
    assert code == 0
    entries = report["log"]["entries"]
    assert [e.rsplit(" ", 1)[1] for e in entries] == [str(n) for n in range(2, 12)]  # the last ten
    assert not any("early" in e for e in entries)


def test_a_log_others_may_write_or_a_link_is_not_read(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    log = setup.root / "server.log"
    log.write_text("2026-11-30 09:00:00,000 ERROR groundhog.x: planted\n")
    os.chmod(log, 0o666)
    code, report = setup.doctor(capsys, "--log-file", str(log))
    assert code == 1 and subjects(report) == ["log"]
    assert "The log file is writable by other users" in report["problems"][0]["problem"]
    assert report["log"]["entries"] == []
    os.chmod(log, 0o600)
    link = setup.root / "link.log"
    link.symlink_to(log)
    code, report = setup.doctor(capsys, "--log-file", str(link))
    assert code == 1 and "symbolic link" in report["problems"][0]["problem"]
    assert report["log"]["entries"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason=NEEDS_ROOT)
def test_a_log_of_another_user_is_not_read(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    log = setup.root / "server.log"
    log.write_text("2026-11-30 09:00:00,000 ERROR groundhog.x: someone else's\n")
    os.chmod(log, 0o600)
    os.chown(log, NOBODY, NOBODY)
    code, report = setup.doctor(capsys, "--log-file", str(log))
    assert code == 1 and subjects(report) == ["log"]
    assert "The log file belongs to another user" in report["problems"][0]["problem"]
    assert report["log"]["entries"] == [] and report["log"]["owner"] != "root"


def test_without_a_log_file_doctor_says_how_to_see_one(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = setup.doctor(capsys)
    assert code == 0 and report["log"] == {"path": None, "exists": False, "entries": []}
    missing = setup.root / "not-yet.log"
    code, report = setup.doctor(capsys, "--log-file", str(missing))
    assert code == 0 and report["log"]["exists"] is False
    assert any(f"The log file {missing} does not exist" in n["note"] for n in report["notes"])
    assert not missing.exists()  # doctor only looks: it never opens the log for writing
    assert main(["doctor", "--workspace", str(setup.workspace)]) == 0
    assert "--log-file PATH shows the last errors of the server's log" in capsys.readouterr().out


def test_a_shared_store_shows_its_url_without_the_password_and_the_workspace_key(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from groundhog.store import keys
    from groundhog.workspace import shared_workspace_id

    monkeypatch.setenv("GROUNDHOG_STORE_URL", "postgresql://me:hunter2@db.internal:5433/team")
    before = setup.tree()
    code, report = setup.doctor(capsys)
    shared = report["sharedStore"]
    assert shared["url"] == "postgresql://me@db.internal:5433/team" and "hunter2" not in json.dumps(report)
    workspace_id = shared_workspace_id(setup.workspace)
    assert (shared["workspaceId"], shared["namedBy"]) == (workspace_id, "path")  # no git remote here
    assert shared["key"]["exists"] is False and code == 0
    assert any("groundhog key import" in note["note"] for note in report["notes"])
    assert setup.tree() == before  # never connects, never creates
    keys.save_workspace_key(setup.config, workspace_id, keys.new_data_key())
    os.chmod(keys.workspace_key_path(setup.config, workspace_id), 0o666)
    code, report = setup.doctor(capsys)
    assert code == 1 and subjects(report) == ["shared store"]
    monkeypatch.setenv("GROUNDHOG_STORE_URL", "/srv/not-a-url")
    code, report = setup.doctor(capsys)
    assert code == 1 and "postgresql://" in report["problems"][-1]["problem"]
    assert "GROUNDHOG_STORE_URL" in report["problems"][-1]["problem"]
