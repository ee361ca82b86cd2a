"""A throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks.

:class:`PostgresCluster` runs ``initdb`` into a temporary directory and ``pg_ctl`` to start
and stop the server; trust authentication on 127.0.0.1 only, durability traded for speed
(``fsync=off``) since the data is thrown away. ``initdb`` refuses to run as root, so as root
the cluster runs as Debian's ``postgres`` user. Debian keeps ``initdb`` and ``pg_ctl``
outside PATH, in ``/usr/lib/postgresql/<version>/bin``; they are found there.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from linli.ports import free_port
from linli.servers import LocalServer

POSTGRES_USER = "postgres"
DEBIAN_DIR = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60


class PostgresError(RuntimeError):
    """PostgreSQL is not installed, or the cluster could not be made or started."""


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``; PostgresError if there is none."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(
        (p for p in DEBIAN_DIR.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise PostgresError(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
            "install Debian's postgresql package"
        )
    return versions[-1]


class PostgresCluster(LocalServer):
    """A private PostgreSQL server on ``127.0.0.1:port``; use as a context manager."""

    def __init__(self, *, name: str = "linli") -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.name = name
        self._bin = find_postgres_bin()
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._as_user = POSTGRES_USER if os.geteuid() == 0 else getpass.getuser()
        self._started = False

    @property
    def data_dir(self) -> Path:
        assert self._workdir is not None
        return Path(self._workdir.name) / "data"

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None
        return Path(self._workdir.name) / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3)."""
        return f"postgresql+psycopg://{self._as_user}@{self.host}:{self.port}/{database}"

    def start(self) -> PostgresCluster:
        self._workdir = tempfile.TemporaryDirectory(prefix=f"linli-pg-{self.name}-")
        work = Path(self._workdir.name)
        if os.geteuid() == 0:
            user = pwd.getpwnam(POSTGRES_USER)
            os.chown(work, user.pw_uid, user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", self._as_user,
            "-E", "UTF8", "--no-instructions",
        )  # fmt: skip
        self.port = free_port()
        options = (
            f"-p {self.port} -k {work} -c listen_addresses={self.host} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-o", options,
            "-w", "-t", str(START_TIMEOUT_S), "start",
        )  # fmt: skip
        self._started = True
        return self

    def create_database(self, database: str, *, template: str | None = None) -> str:
        """Create ``database`` (a plain identifier), as a copy of ``template`` if given (no
        one may be connected to it); its URL."""
        copy = f' TEMPLATE "{_plain(template)}"' if template else ""
        self._execute(f'CREATE DATABASE "{_plain(database)}"{copy}')
        return self.url(database)

    def drop_database(self, database: str) -> None:
        """Drop ``database`` (if it exists), closing whatever is still connected to it."""
        self._execute(f'DROP DATABASE IF EXISTS "{_plain(database)}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self._as_user, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(statement)

    def stop(self) -> None:
        if self._started:
            try:
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            finally:
                self._started = False
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self._bin / program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", POSTGRES_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
        if done.returncode != 0:
            log = ""
            if self._workdir is not None and self.log_path.exists():
                log = self.log_path.read_text(errors="replace")[-1500:]
            raise PostgresError(f"{program} failed: {done.stderr.strip() or done.stdout}\n{log}")


def _plain(name: str) -> str:
    """``name`` if it is a plain identifier (letters, digits, underscores); else ValueError."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    return name
