"""`:GroundhogInstall` and the documented lazy.nvim spec, for real: headless Neovim makes a
virtual environment with a real Python and pip installs this checkout into the test's own data
directory (PyPI must be reachable, as it is here and in CI); failures leave nothing behind."""

from __future__ import annotations

import os
import re
from pathlib import Path

from nvim_harness import ERROR, INFO, PLUGIN_DIR, REPO, WARN, Nvim, Workspace

import groundhog

INSTALL_TIMEOUT_S = 600  # a real pip install: ~15 s with a warm pip cache, ~1 min from PyPI


def lazy_spec() -> str:
    """The lazy.nvim spec exactly as clients/neovim/README.md documents it."""
    readme = (PLUGIN_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```lua\n(.*?)```", readme, flags=re.S)
    (spec,) = [b for b in blocks if 'build = ":GroundhogInstall"' in b]
    return spec


def path_without_groundhog() -> str:
    """PATH minus every directory holding a `groundhog` (the dev venv): the plugin must find none."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "groundhog").exists())


def data_dir(nvim: Nvim) -> Path:
    return Path(nvim.env["XDG_DATA_HOME"]) / "nvim" / "groundhog"


def fake_program(tmp_path: Path, name: str, output: str) -> Path:
    """An executable that prints `output` whatever it is asked (a Python or a server stand-in)."""
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    path.chmod(0o755)
    return path


def test_lazy_spec_installs_a_private_server_that_the_plugin_starts(nvim: Nvim, workspace: Workspace) -> None:
    real_pip_cache = Path.home() / ".cache" / "pip"  # the test's XDG_CACHE_HOME is empty
    run = nvim.run(
        "lazy_spec",
        cwd=workspace.root,
        files=[workspace.files["alpha.txt"]],
        plugin_on_rtp=False,
        params={
            "spec": lazy_spec(),
            "repo": str(REPO),
            "install_timeout_ms": INSTALL_TIMEOUT_S * 1000,
            "watchdog_ms": (2 * INSTALL_TIMEOUT_S + 60) * 1000,  # two installs
        },
        env={"PATH": path_without_groundhog(), "PIP_CACHE_DIR": str(real_pip_cache)},
        timeout=2 * INSTALL_TIMEOUT_S + 90,
    )
    venv = data_dir(nvim) / "venv"
    progress = run.messages(INFO)
    assert any("looking for Python 3.11+" in m for m in progress)
    assert any(f"pip install {REPO} " in m for m in progress)
    assert f"groundhog: server {groundhog.__version__} installed in {venv}" in progress
    assert run.messages(WARN) == []
    # the environment in use is a link to the one complete install, and nothing else is left
    target = run.data["venv_link"]
    assert re.fullmatch(r"venv-\d{14}-\d+-1", target)
    assert sorted(run.data["data_dir"]) == sorted(["venv", target])
    # the plugin started that server, and it answers
    assert run.data["client_cmd"] == [str(venv / "bin" / "groundhog"), "serve"]
    assert run.data["status"]["active"]["name"] == "default"
    health = "\n".join(run.data["health"])
    assert f"OK server command: {venv}/bin/groundhog serve" in health
    assert "from private venv)" in health
    assert f"OK server version {groundhog.__version__} (from private venv), the plugin's version" in health
    # installed again (as after an update): the new one is switched in, the previous one removed
    assert run.messages(ERROR) == []
    assert run.data["reinstalled"].endswith("; restart Neovim to use it")
    again = run.data["venv_link_after"]
    assert re.fullmatch(r"venv-\d{14}-\d+-2", again)
    assert sorted(run.data["data_dir_after"]) == sorted(["venv", again])


def test_install_refuses_a_python_too_old(nvim: Nvim, tmp_path: Path) -> None:
    python = fake_program(tmp_path, "python3.8", "3.8.10\\n1\\n")
    run = nvim.run(
        "install_failure", cwd=tmp_path, params={"setup": {"python": str(python), "autostart": False}}
    )
    (error,) = run.messages(ERROR)
    assert error == (
        f"groundhog: cannot install the server: Python 3.8.10 ({python}) is too old: the server needs "
        "3.11 or newer; install a newer Python and set the `python` option to it "
        "(:help groundhog-opt-python)"
    )
    assert run.data["data_dir"] == []
    assert run.data["clients"] == 0


def test_install_with_a_python_that_does_not_exist(nvim: Nvim, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "python3"
    run = nvim.run(
        "install_failure", cwd=tmp_path, params={"setup": {"python": str(missing), "autostart": False}}
    )
    (error,) = run.messages(ERROR)
    assert error.startswith(f'groundhog: cannot install the server: the `python` option is "{missing}", ')
    assert "which is not an executable: point it at a Python 3.11 or newer" in error
    assert run.data["data_dir"] == []


def test_install_with_a_python_without_venv_says_which_debian_package(nvim: Nvim, tmp_path: Path) -> None:
    python = fake_program(tmp_path, "python3", "3.11.2\\n0\\n")  # what Debian's python3 says alone
    run = nvim.run(
        "install_failure", cwd=tmp_path, params={"setup": {"python": str(python), "autostart": False}}
    )
    (error,) = run.messages(ERROR)
    assert f"Python 3.11.2 ({python}) has no `venv`/`ensurepip` module" in error
    assert "`sudo apt install python3-venv` (or python3.11-venv), then run :GroundhogInstall again" in error
    assert run.data["data_dir"] == []


def test_install_without_network_removes_the_half_made_environment(nvim: Nvim, tmp_path: Path) -> None:
    # A real venv, then a real pip that cannot reach any index (connection refused at once).
    offline = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_NO_CACHE_DIR": "1"}
    run = nvim.run(
        "install_failure",
        cwd=tmp_path,
        params={"setup": {"autostart": False}, "install_timeout_ms": 240_000, "watchdog_ms": 260_000},
        env=offline,
        timeout=300,
    )
    (error,) = run.messages(ERROR)
    log = Path(nvim.env["XDG_STATE_HOME"]) / "nvim" / "groundhog-install.log"
    assert error == (
        "groundhog: cannot install the server: pip could not download the server's dependencies "
        "(no network, no access to the package index, or no such package): connect to the network "
        "or set up pip's index or proxy, then run :GroundhogInstall again; the commands' output is "
        f"in {log}"
    )
    assert "-m venv" in run.data["log"] and "-m pip install" in run.data["log"]
    assert "127.0.0.1" in run.data["log"]  # pip's own words are kept for the user
    assert run.data["data_dir"] == []  # the venv pip ran in is gone


def test_install_with_a_wheel_path_that_does_not_exist(nvim: Nvim, tmp_path: Path) -> None:
    wheel = tmp_path / "groundhog-9.9.9-py3-none-any.whl"
    run = nvim.run(
        "install_failure", cwd=tmp_path, params={"setup": {"server_package": str(wheel), "autostart": False}}
    )
    (error,) = run.messages(ERROR)
    prefix = "groundhog: cannot install the server: the `server_package` option names"
    assert error == f"{prefix} {wheel}, which does not exist"
    assert run.data["data_dir"] == []


def test_checkhealth_warns_when_the_server_version_differs(
    nvim: Nvim, workspace: Workspace, tmp_path: Path
) -> None:
    server = fake_program(tmp_path, "groundhog", "groundhog 0.0.9\\n")
    run = nvim.run("health_only", cwd=workspace.root, params={"setup": {"cmd": [str(server), "serve"]}})
    health = "\n".join(run.data["health"])
    assert f"OK server command: {server} serve ({server}, from configured)" in health
    assert (
        f"WARNING server version 0.0.9 (from configured) differs from the plugin's {groundhog.__version__}"
        in health
    )
    assert "Point `cmd` at a server of the plugin's version" in health


def test_the_plugin_version_is_the_server_version() -> None:
    constants = (PLUGIN_DIR / "lua" / "groundhog" / "constants.lua").read_text(encoding="utf-8")
    (version,) = re.findall(r'^M\.VERSION = "([^"]+)"$', constants, flags=re.M)
    assert version == groundhog.__version__


def lua_code(text: str) -> str:
    """Lua without comments and layout, to compare copies of one snippet."""
    return " ".join(re.sub(r"--[^\n]*", "", text).split())


def test_the_tested_lazy_spec_is_the_one_every_neovim_doc_shows() -> None:
    spec = lua_code(lazy_spec())
    editors = (REPO / "docs" / "editors.md").read_text(encoding="utf-8")
    help_file = (PLUGIN_DIR / "doc" / "groundhog.txt").read_text(encoding="utf-8")
    help_spec = help_file[help_file.index("*groundhog-lazy.nvim*") :].split(">lua", 1)[1].split("\n<", 1)[0]
    editors_spec = editors[editors.index("## Neovim") :].split("```lua", 1)[1].split("```", 1)[0]
    assert lua_code(editors_spec) == spec
    assert lua_code(help_spec) == spec
    assert 'build = ":GroundhogInstall"' in spec


def test_disk_full_and_other_failures_are_explained(nvim: Nvim, tmp_path: Path) -> None:
    outputs = {
        "disk_full": "ERROR: Could not install packages due to an OSError: "
        "[Errno 28] No space left on device",
        "no_ensurepip": "Error: Command '['/x/bin/python3', '-m', 'ensurepip', '--upgrade', "
        "'--default-pip']' returned non-zero exit status 1.",
        "other": "ERROR: some build backend failed",
    }
    run = nvim.run("install_explain", cwd=tmp_path, params={"outputs": outputs})
    explained = run.data["explained"]
    data = data_dir(nvim)
    assert explained["disk_full"] == (
        f"the disk is full (No space left on device) under {data}: free some space, "
        "then run :GroundhogInstall again"
    )
    assert "`sudo apt install python3-venv`" in explained["no_ensurepip"]
    assert explained["other"] == "pip install failed (exit 1)"
