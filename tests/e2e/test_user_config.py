"""The user's configuration file reaches every process, whatever environment it was started with:
an agent host that passes only HOME and PATH (mcp-hub), an editor started from a desktop launcher.
Without it such a server silently opened another store with a new key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from mcp import Client, StdioServerParameters
from pytest_lsp import LanguageClient

from tests.e2e.harness import Env, plain_converter, start_client
from tests.e2e.mcp_harness import open_agent


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


def bare_environment(home: Path) -> dict[str, str]:
    """What mcp-hub gives a server: HOME and PATH, nothing of the user's shell."""
    return {"HOME": str(home), "PATH": os.environ["PATH"]}


def write_user_config(home: Path, text: str) -> Path:
    path = home / ".config" / "groundhog" / "config.toml"
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)
    return path


def bare_agent(env: Env, home: Path) -> Client:
    """An agent whose host passes ``groundhog mcp`` only HOME and PATH, started in the workspace."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "groundhog", "mcp", "--workspace", str(env.workspace)],
        env=bare_environment(home),
        cwd=str(env.workspace),
    )
    return Client(params, read_timeout_seconds=30)  # type: ignore[arg-type]


def groundhog(*args: str, environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_an_agent_started_with_only_home_and_path_uses_the_configured_store_and_key(env: Env) -> None:
    home = env.root / "home"
    write_user_config(home, f'store_dir = "{env.store_dir}"\nkey_dir = "{env.config_dir}"\n')
    # a repository cannot redirect it: a look-alike file in the checkout is not read
    (env.workspace / "config.toml").write_text(f'store_dir = "{env.root / "planted"}"\n')
    editor = await start_client(env)  # the user's shell: GROUNDHOG_HOME and GROUNDHOG_CONFIG_DIR set
    try:
        await editor.request("context/update", {"set": {"plan": "from the editor"}})
    finally:
        await editor.close()
    keys_before = sorted(p.name for p in env.config_dir.iterdir())
    async with bare_agent(env, home) as agent:
        read = await agent.call_tool("context_get", {})
        assert not read.is_error, read.content
        assert read.structured_content is not None
        assert read.structured_content["data"] == {"plan": "from the editor"}
    assert sorted(p.name for p in env.config_dir.iterdir()) == keys_before  # no second key anywhere
    assert not (home / ".config" / "groundhog" / "master.key").exists()
    assert not (home / ".local").exists() and not (env.root / "planted").exists()


async def test_an_editor_started_without_the_shells_variables_uses_the_configured_store(env: Env) -> None:
    home = env.root / "home"
    write_user_config(
        home,
        f'store_dir = "{env.store_dir}"\nkey_dir = "{env.config_dir}"\n\n'
        f'[workspace."{env.workspace}"]\nhistory_limit = 3\n',
    )
    async with open_agent(env) as agent:
        await agent.ok("context_update", {"set": {"n": 0}})
    lsp = LanguageClient(converter_factory=plain_converter)
    await lsp.start_io(sys.executable, "-m", "groundhog", "serve", env=bare_environment(home))
    try:
        await lsp.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=env.workspace.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=env.workspace.as_uri(), name="w")],
            )
        )
        got = await lsp.protocol.send_request_async("context/get", {})
        assert got["data"] == {"n": 0}
        for n in range(1, 6):
            await lsp.protocol.send_request_async("context/update", {"set": {"n": n}})
        history = await lsp.protocol.send_request_async("context/history", {})
        assert len(history["entries"]) == 3  # the workspace table's history_limit applies
    finally:
        await lsp.shutdown_session()
        await lsp.stop()


async def test_a_broken_store_choice_in_the_file_is_one_clear_error_not_another_store(env: Env) -> None:
    home = env.root / "home"
    write_user_config(home, 'store_url = "mysql://db/x"\n')
    done = groundhog("status", environ=bare_environment(home), cwd=env.workspace)
    assert done.returncode == 1 and "store_url" in done.stderr and "Traceback" not in done.stderr
    async with bare_agent(env, home) as agent:
        answer = await agent.call_tool("context_status", {})
        assert answer.is_error
        text = " ".join(getattr(block, "text", "") for block in answer.content)
        assert "store_url" in text and str(home) not in text
    assert not (home / ".local").exists()


def test_config_set_then_show_says_where_each_value_comes_from(env: Env) -> None:
    home = env.root / "home"
    environ = {**bare_environment(home), "GROUNDHOG_WORKSPACE_ID": "acme/env"}
    done = groundhog("config", "set", "history_limit", "42", environ=environ, cwd=env.workspace)
    assert done.returncode == 0, done.stderr
    done = groundhog(
        "config", "set", "workspace_id", "acme/x", "--workspace", ".", environ=environ, cwd=env.workspace
    )
    assert done.returncode == 0 and "overrides the file" in done.stderr
    shown = json.loads(groundhog("config", "--json", environ=environ, cwd=env.workspace).stdout)
    rows = {row["name"]: row for row in shown["settings"]}
    assert rows["history_limit"]["value"] == 42 and rows["history_limit"]["from"].startswith("config file")
    assert rows["workspace_id"] == rows["workspace_id"] | {
        "value": "acme/env",
        "from": "environment (GROUNDHOG_WORKSPACE_ID)",
    }
    assert rows["audit_keep"]["from"] == "default"
    bad = groundhog("config", "set", "history_limit", "0", environ=environ, cwd=env.workspace)
    assert bad.returncode == 1 and "from 1 to" in bad.stderr
    assert (home / ".config" / "groundhog" / "config.toml").stat().st_mode & 0o777 == 0o600


def test_doctor_warns_when_an_agent_would_start_the_server_without_the_shells_variables(env: Env) -> None:
    home = env.root / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(
        '[mcp_servers.groundhog]\ncommand = "groundhog"\nargs = ["mcp"]\n'
    )
    hub = home / ".config" / "mcphub"
    hub.mkdir(parents=True)
    (hub / "servers.json").write_text(
        json.dumps(
            {"mcpServers": {"gh": {"command": "groundhog", "args": ["mcp"], "env": {"GROUNDHOG_HOME": "x"}}}}
        )
    )
    url = "postgresql://me@db.internal/team"
    environ = {**bare_environment(home), "GROUNDHOG_HOME": str(env.store_dir), "GROUNDHOG_STORE_URL": url}
    done = groundhog("doctor", "--json", environ=environ, cwd=env.workspace)
    report = json.loads(done.stdout)
    missing = {item["agent"]: item["missing"] for item in report["agentEnvironment"]}
    assert missing == {
        "Codex CLI": ["GROUNDHOG_HOME", "GROUNDHOG_STORE_URL"],
        "mcp-hub": ["GROUNDHOG_STORE_URL"],
    }
    assert done.returncode == 1
    fixes = [p["fix"] for p in report["problems"] if p["subject"] == "agents"]
    assert any("groundhog config set store_url" in fix for fix in fixes)
    # once the file says the same, every process finds it: nothing to warn about
    for name, value in (("store_dir", str(env.store_dir)), ("store_url", url)):
        assert groundhog("config", "set", name, value, environ=environ, cwd=env.workspace).returncode == 0
    report = json.loads(groundhog("doctor", "--json", environ=environ, cwd=env.workspace).stdout)
    assert report["agentEnvironment"] == []
