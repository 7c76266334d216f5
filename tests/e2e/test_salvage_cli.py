"""What people are told about a damaged store file, with the one next step each time: `groundhog
verify` on a file nobody has salvaged yet (damaged, and how to salvage it), `verify --salvage`,
`status` and `doctor` while the damaged file is kept, and `verify --discard-damaged`, which deletes
it and leaves a store that verifies. A damaged WAL (commits SQLite would silently skip) is
reported by `verify` too."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.damage_tools import Built, wal_zero_frame, zero_page
from tests.e2e.harness import Env, run_cli

pytestmark = pytest.mark.one_profile


def _env(damage_base: Built, variant: str, tmp_path: Path) -> Env:
    store_dir, config_dir = damage_base.copy(variant, tmp_path / "copy")
    return Env(tmp_path, store_dir, config_dir, damage_base.workspace)


def test_from_a_damaged_file_to_a_store_that_verifies_with_the_next_step_at_each_stage(
    damage_base: Built, tmp_path: Path
) -> None:
    env = _env(damage_base, "clean", tmp_path)
    database = damage_base.database(env.store_dir)
    # page 2 holds the store's first tables' roots: SQLite cannot read past it
    data = bytearray(database.read_bytes())
    data[4096:8192] = bytes(4096)
    database.write_bytes(bytes(data))

    code, out, err = run_cli(env, "verify")
    assert code == 1 and "damaged" in out and "groundhog verify --salvage" in out, out + err
    assert sorted(p.name for p in database.parent.iterdir()) == ["store.db"], "a reader changes nothing"
    code, out, _ = run_cli(env, "status")
    assert code == 1 and "groundhog verify --salvage" in out

    code, out, err = run_cli(env, "verify", "--salvage")
    assert code == 1, out + err
    assert "salvaged" in err and "kept as store.db.damaged-" in err
    kept = [p for p in database.parent.iterdir() if ".damaged-" in p.name]
    assert [p.name.endswith(".salvaged") for p in kept] == [False] * len(kept)
    assert any(p.read_bytes() == bytes(data) for p in kept), "the damaged file is kept byte for byte"
    report = json.loads(run_cli(env, "verify", "--json")[1])
    salvage = [p for p in report["problems"] if "setAside" in p]
    assert len(salvage) == 1 and salvage[0]["next"].startswith("`groundhog verify --discard-damaged`")

    status = json.loads(run_cli(env, "status", "--json")[1])
    assert len(status["salvages"]) == 1 and status["salvages"][0]["setAside"] == salvage[0]["setAside"]
    code, out, _ = run_cli(env, "doctor")
    assert code == 1 and "was damaged and salvaged" in out and "--discard-damaged" in out

    code, out, _ = run_cli(env, "verify", "--discard-damaged")
    assert code == 0, out
    assert not [p for p in database.parent.iterdir() if ".damaged-" in p.name], "discarded on purpose"
    assert run_cli(env, "verify")[0] == 0
    assert run_cli(env, "status", "--json")[0] == 0


def test_a_damaged_wal_is_reported_by_verify(damage_base: Built, tmp_path: Path) -> None:
    env = _env(damage_base, "wal", tmp_path)
    rng = random.Random(3)
    what = wal_zero_frame(damage_base.database(env.store_dir), rng)
    code, out, _ = run_cli(env, "verify", "--json")
    report = json.loads(out)
    assert code == 1 and any("WAL" in p["where"] or "WAL" in p["problem"] for p in report["problems"]), (
        what,
        report,
    )


def test_a_reader_session_on_a_damaged_file_says_how_it_gets_salvaged(
    damage_base: Built, tmp_path: Path
) -> None:
    env = _env(damage_base, "clean", tmp_path)
    zero_page(damage_base.database(env.store_dir), random.Random(0))
    code, out, err = run_cli(env, "contexts")
    if code == 0:  # the damage was in a page `contexts` does not read
        return
    assert "damaged" in (out + err) and "Traceback" not in err
