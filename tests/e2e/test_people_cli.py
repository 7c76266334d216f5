"""The people CLI against a store the server made: `groundhog status | contexts | log | show | verify
| audit`, readable and `--json`, by `--workspace` or from the workspace directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import Env, cli_json, run_cli


@pytest.fixture
def profile() -> str:
    """The CLI does not depend on the editor: one profile is enough."""
    return "vscode"


@pytest.fixture
async def made_store(open_client: Callable[..., Any], env: Env) -> dict[str, Any]:
    """A store with two contexts, versions, a snapshot and the server's own view of it."""
    client = await open_client()
    await client.request("context/update", {"set": {"/src/a.py": {"class": "A"}, "task": "cli"}})
    await client.request("context/update", {"set": {"task": "cli v3"}, "remove": ["/src/a.py"]})
    await client.request("context/snapshot", {"label": "s1"})
    await client.request("context/create", {"name": "scratch"})
    await client.request("context/delete", {"name": "scratch"})
    await client.request("context/switch", {"name": "feature/x", "create": True})
    await client.request("context/update", {"set": {"x": 1}})
    seen = {
        "status": await client.request("context/status"),
        "list": await client.request("context/list"),
        "history": await client.request("context/history", {"context": "default"}),
        "v2": await client.request("context/get", {"context": "default", "version": 2}),
        "head": await client.request("context/get", {"context": "default"}),
    }
    await client.close()
    return seen


async def test_people_read_the_store_as_json(env: Env, made_store: dict[str, Any]) -> None:
    status = cli_json(env, "status")
    assert status["workspace"]["uri"] == made_store["status"]["workspace"]["uri"]
    assert status["workspace"]["id"] == made_store["status"]["workspace"]["id"]
    assert status["store"]["path"] == made_store["status"]["store"]["path"]
    assert status["lastActive"] == "feature/x" and status["contexts"] == 2

    contexts = cli_json(env, "contexts")["contexts"]
    assert [(c["name"], c["version"]) for c in contexts] == [
        (c["name"], c["version"]) for c in made_store["list"]["contexts"]
    ]
    assert all(c["sessions"] == 0 for c in contexts)  # the server has exited

    log = cli_json(env, "log", "default")
    assert log["context"] == "default"
    assert log["entries"] == made_store["history"]["entries"]
    assert cli_json(env, "log")["context"] == "feature/x"  # the last active context
    assert [e["version"] for e in cli_json(env, "log", "default", "--limit", "1")["entries"]] == [3]

    shown = cli_json(env, "show", "default")
    assert (shown["version"], shown["data"]) == (3, made_store["head"]["data"])
    shown = cli_json(env, "show", "default", "--version", "2")
    assert (shown["version"], shown["data"]) == (2, made_store["v2"]["data"])

    verify = cli_json(env, "verify")
    assert verify["ok"] is True and verify["problems"] == []

    records = cli_json(env, "audit")["records"]
    events = [r["event"] for r in records]
    assert {"session-start", "create", "update", "snapshot", "delete", "session-end"} <= set(events)
    assert [r["seq"] for r in records] == sorted((r["seq"] for r in records), reverse=True)
    assert len(cli_json(env, "audit", "--limit", "2")["records"]) == 2


async def test_people_read_the_store_as_tables(env: Env, made_store: dict[str, Any]) -> None:
    for args, expected in (
        (("status",), ["feature/x", str(env.workspace)]),
        (("contexts",), ["NAME", "default", "feature/x"]),
        (("log", "default"), ["VERSION", "create", "update", "/src/a.py"]),
        (("show", "default"), ["cli v3", "last modified", "data:"]),
        (("show", "default", "--version", "2"), ['"/src/a.py"', "cli"]),
        (("verify",), ["ok"]),
        (("audit",), ["EVENT", "session-start"]),
    ):
        code, out, err = run_cli(env, *args)
        assert code == 0, (args, err)
        for text in expected:
            assert text in out, (args, out)
        assert not out.lstrip().startswith("{"), (args, out)


async def test_people_cli_works_from_the_workspace_directory(env: Env, made_store: dict[str, Any]) -> None:
    contexts = cli_json(env, "contexts", cwd=env.workspace)["contexts"]
    assert {c["name"] for c in contexts} == {"default", "feature/x"}
    # --store-dir points at the store explicitly (here the same as GROUNDHOG_HOME)
    code, out, _ = run_cli(env, "contexts", "--json", "--store-dir", str(env.store_dir))
    assert code == 0 and {c["name"] for c in json.loads(out)["contexts"]} == {"default", "feature/x"}


def test_people_cli_on_a_workspace_without_a_store(env: Env) -> None:
    code, out, _ = run_cli(env, "status", "--json")
    assert code == 0 and json.loads(out)["store"] is None
    code, out, _ = run_cli(env, "status")
    assert code == 0 and "No stored state" in out
    for args in (("contexts",), ("log",), ("show", "default"), ("verify",), ("audit",)):
        code, out, err = run_cli(env, *args)
        assert code == 1 and out == "" and "Traceback" not in err, (args, err)
        assert err.startswith("groundhog: "), err
    assert not env.store_dir.exists() or not any(env.store_dir.rglob("store.db"))


async def test_people_cli_errors_are_one_line(env: Env, made_store: dict[str, Any]) -> None:
    for args in (("show", "missing"), ("show", "default", "--version", "99"), ("log", "missing")):
        code, out, err = run_cli(env, *args)
        assert code == 1 and out == "", (args, out)
        assert err.startswith("groundhog: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    code, _, err = run_cli(env, "show", "../bad")
    assert code == 1 and "Traceback" not in err


def test_people_cli_without_a_command_prints_help(env: Env) -> None:
    code, _, err = run_cli(env, workspace=False)
    assert code == 2 and "usage" in err.lower()


async def test_a_store_dir_given_to_serve_is_read_with_store_dir(
    open_client: Callable[..., Any], env: Env
) -> None:
    elsewhere = env.root / "elsewhere"
    client = await open_client(extra_args=("--store-dir", str(elsewhere)))
    status = await client.request("context/status")
    assert status["store"]["path"].startswith(str(elsewhere))
    await client.request("context/update", {"set": {"here": 1}})
    await client.close()
    code, out, err = run_cli(env, "show", "default", "--json", "--store-dir", str(elsewhere))
    assert code == 0 and json.loads(out)["data"] == {"here": 1}, err
    code, _, err = run_cli(env, "show", "default")  # nothing under GROUNDHOG_HOME for this workspace
    assert code == 1 and err.startswith("groundhog: ")


async def test_a_laptop_and_a_dev_container_are_two_members_of_one_embedded_store(
    env: Env, made_store: dict[str, Any]
) -> None:
    """The container shares the laptop's store directory with a key directory of its own: the
    laptop adds the container's member key (becoming the store's first member), and the container
    reads what the laptop's server wrote; a third key directory is not a member."""
    container = Env(env.root, env.store_dir, env.root / "container-keys", env.workspace)
    code, key, err = run_cli(container, "key", "show-public", workspace=False)
    assert code == 0 and key.startswith("groundhog-member-1:"), err
    code, _, err = run_cli(env, "members", "add", "container", key.strip())
    assert code == 0, err
    listed = cli_json(container, "members")["members"]
    assert len(listed) == 2 and [(m["name"], m["addedBy"] is not None, m["you"]) for m in listed][1] == (
        "container",
        True,
        True,
    )
    assert cli_json(container, "contexts") == cli_json(env, "contexts")
    assert cli_json(container, "show", "default")["data"] == made_store["head"]["data"]
    stranger = Env(env.root, env.store_dir, env.root / "stranger-keys", env.workspace)
    code, _, err = run_cli(stranger, "status")
    assert code == 1 and "not a member" in err and len(err.strip().splitlines()) == 1
