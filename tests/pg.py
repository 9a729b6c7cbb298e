"""A throwaway PostgreSQL cluster for the test session, from the installed binaries."""

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


def find_bindir() -> Path | None:
    """Finds initdb/pg_ctl: PG_BINDIR, then PATH, then Debian's /usr/lib/postgresql/N/bin."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """initdb + pg_ctl start on a free loopback port; stop() removes everything."""

    can_restart = True

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="webleads-pg-"))
        self.datadir = self.root / "data"
        self.user = None
        # PostgreSQL refuses to run as root: use the `postgres` account then.
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        kwargs: dict = {"capture_output": True, "text": True, "check": check}
        if self.user is not None:
            uid, gid = self.user.pw_uid, self.user.pw_gid

            def demote() -> None:
                os.setgid(gid)
                os.setuid(uid)

            kwargs["preexec_fn"] = demote
            kwargs["cwd"] = str(self.root)
        return subprocess.run(cmd, **kwargs)

    def start(self) -> PostgresCluster:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        self._start_server()
        self._wait()
        return self

    def _wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop", check=False)

    def restart(self) -> None:
        """Stops and starts the server (same port, same data): for fault tests."""
        self.stop()
        self._start_server()
        self._wait()

    def _start_server(self) -> None:
        # Durability off: a throwaway cluster trades it for speed.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c timezone=UTC"
        )
        log = str(self.root / "log")
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-o", options, "-l", log, "-w", "-t", "60", "start"
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ExistingServer:
    """A server the tests are given (TEST_DATABASE_URL, e.g. a CI service): the tests
    create and drop their databases on it, through the URL's user."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url).set(drivername="postgresql")
        self._admin = parsed.set(database="postgres")
        self._base = parsed

    def dsn(self, database: str) -> str:
        return self._admin.set(database=database).render_as_string(hide_password=False)

    def url(self, database: str) -> str:
        return self._base.set(drivername="postgresql+psycopg", database=database).render_as_string(
            hide_password=False
        )

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    can_restart = False  # not ours to stop


@contextlib.contextmanager
def throwaway_database(name: str):
    """Yields the URL of a database on a cluster started for the occasion, or None
    (with a message) when PostgreSQL's binaries are missing. For the benchmarks."""
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL: skipped (no initdb/pg_ctl; apt-get install postgresql)")
        yield None
        return
    cluster = PostgresCluster(bindir).start()
    try:
        yield cluster.create_database(name)
    finally:
        cluster.destroy()
