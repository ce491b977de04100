"""A real PostgreSQL server for the scale-out tests: Debian's binaries, a throw-away cluster.

The server is what ``deploy/compose.yaml`` runs as ``postgres``; here it listens on 127.0.0.1 on a
free port with a password, like the compose service does on its network. Without the binaries
the tests skip with the install command, unless ``RECROSS_TEST_POSTGRES=1`` (CI) promised them.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Nothing in this repo installs PostgreSQL (neither `make test` nor .ci/run): the machine must
# have it. RECROSS_TEST_POSTGRES=1 only turns a missing server from a skip into a failure.
INSTALL_HINT = ("install it with `apt-get update && apt-get install -y postgresql` (as root; "
                "neither `make test` nor .ci/run installs it)")


@dataclass(frozen=True)
class PostgresServer:
    """Where the test server listens and who may log in."""

    host: str
    port: int
    user: str
    password: str
    bin_dir: Path  # initdb, pg_ctl, psql of the server's version

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name`` (as the compose init script does) and return its URL."""
        import psycopg2

        connection = psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                      password=self.password, dbname="postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)


def _server_bin_dir() -> Path | None:
    """initdb/pg_ctl live in /usr/lib/postgresql/<major>/bin on Debian, not on PATH."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _unavailable(reason: str) -> None:
    if os.environ.get("RECROSS_TEST_POSTGRES") == "1":
        pytest.fail(f"RECROSS_TEST_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for the session and stopped (and deleted) after it."""
    bin_dir = _server_bin_dir()
    if bin_dir is None:
        _unavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")
    # initdb refuses to run as root: run the server as the `postgres` user the package creates.
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable(f"running as root and there is no `postgres` user to own the cluster; "
                         f"{INSTALL_HINT}")
        if shutil.which("runuser") is None:
            _unavailable("running as root and `runuser` (util-linux) is missing, so the server "
                         "cannot run as the `postgres` user")
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="recross-pg-"))
    data, log, pwfile = root / "data", root / "server.log", root / "pwfile"
    server = PostgresServer(host="127.0.0.1", port=_free_port(), user="recross",
                            password=secrets.token_urlsafe(16), bin_dir=bin_dir)
    pwfile.write_text(server.password + "\n")
    if owner is not None:
        for path in (root, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def run(*args: str) -> None:
        done = subprocess.run([*run_as, *args], check=False, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                               f"{server_log}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", server.user, "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        options = (f"-h {server.host} -p {server.port} -k {data} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", options, "start")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            # immediate: the cluster is thrown away, no need to wait for clean checkpoints.
            subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "stop"], check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
