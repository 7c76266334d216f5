"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory as an unprivileged
user (``postgres`` when the tests run as root, as in CI), listening on a free loopback port and a
Unix socket in that directory, stopped and removed at the end. Debian's ``postgresql`` package
provides the binaries (.ci/run installs it)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from groundhog.store.pgdatabase import init_database

DATABASE = "groundhog"
USER = "groundhog"


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server is not installed: `apt-get install postgresql` (as .ci/run does)."
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgCluster:
    def __init__(self) -> None:
        self.bin = _binaries()
        self.base = Path(tempfile.mkdtemp(prefix="groundhog-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.runas: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self.runas = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.base, 0o700)

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.runas, *args], check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.start()
        with psycopg.connect(f"postgresql://{USER}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        init_database(self.url)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c max_connections=300"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.base / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart_immediately(self, down_s: float = 0.0) -> None:
        """A crash of the database: ``pg_ctl stop -m immediate`` (no checkpoint), then start."""
        self.stop("immediate")
        time.sleep(down_s)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def files(self) -> list[Path]:
        """Every file of the cluster (data and server log), for canary searches."""
        return [Path(p) for p in glob.glob(f"{self.base}/**/*", recursive=True) if os.path.isfile(p)]
