"""Another local user races the server's start-up: in a sticky shared directory (like /tmp) where
the store directory is to be made, she swaps that name, as fast as she can, between a link to her
own directory and a directory of her own. The server (root here) makes and enters every directory by
descriptor (store/dirs.py): whatever she wins, it never creates anything in her directory; it either
refuses (her directory, her link) or makes its own, private one. Seeded and bounded: the same
attacker schedule each run, a fixed number of starts. (Checked by path, then created by path, the
start-up of before made `store` in her directory within the first few starts of this test.)"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from test_planted_files import Neighbour, mallory  # noqa: F401  (the fixture: a real second user)

from groundhog import ContextError, create_manager

STARTS = 100
ATTACKER = """
import os, random, sys
link, target, stop, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)
while not os.path.exists(stop):
    try:
        if rng.random() < 0.5:
            os.symlink(target, link)
        else:
            os.mkdir(link)
            os.chmod(link, 0o777)
    except OSError:
        pass
    try:
        if os.path.islink(link):
            os.unlink(link)
        elif os.path.isdir(link) and os.stat(link).st_uid == os.getuid():
            os.rmdir(link)
    except OSError:
        pass
"""


def test_a_racing_user_never_makes_the_server_create_in_her_directory(
    mallory: Neighbour,  # noqa: F811
    tmp_path: Path,
) -> None:
    hers = mallory.shared / "hers"
    mallory.run(f"mkdir {hers} && chmod 777 {hers}")
    race = mallory.shared / "victim"  # the name she swaps
    stop = mallory.shared / "stop"
    script = mallory.shared / "attacker.py"
    script.write_text(ATTACKER)
    os.chmod(script, 0o644)
    python = shutil.which("python3", path="/usr/bin:/bin")  # hers: she cannot run the test's venv
    if python is None:
        pytest.skip("a system python3 for the other user")
    attacker = subprocess.Popen(
        [python, str(script), str(race), str(hers), str(stop), "20"],
        user=mallory.uid,
        group=mallory.gid,
        extra_groups=[],
        cwd=mallory.shared,
    )
    outcomes = {"refused": 0, "opened": 0}
    rng = random.Random(20)
    try:
        for _start in range(STARTS):
            for _ in range(rng.randint(0, 2000)):  # a seeded moment to start at
                pass
            try:
                manager = create_manager(
                    tmp_path / "workspace", store_dir=race / "store", config_dir=tmp_path / "cfg"
                )
            except ContextError:
                outcomes["refused"] += 1
            else:
                manager.close()
                outcomes["opened"] += 1
                info = os.lstat(race)  # it made its own directory, private, and used nothing else
                assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid(), "not its own directory"
                assert stat.S_IMODE(info.st_mode) == 0o700
            assert os.listdir(hers) == [], f"the server created {os.listdir(hers)} in her directory"
            with contextlib.suppress(FileNotFoundError):  # start the race again (she races this too)
                info = os.lstat(race)
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                    shutil.rmtree(race)
    finally:
        stop.touch()
        attacker.wait(timeout=60)
    assert attacker.returncode == 0
    assert outcomes["refused"] + outcomes["opened"] == STARTS
    assert os.listdir(hers) == []
