"""A throw-away PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster in a
temp dir, listening on 127.0.0.1 only, run as a non-root user (`nobody` when the tests run as
root, since PostgreSQL refuses to run as root), password authentication for TCP.

    cluster = PostgresCluster.start()        # or why_unavailable() -> reason to skip
    url = cluster.create_database("cycle")   # postgresql://grader:...@127.0.0.1:PORT/cycle
    cluster.stop()
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ports import free_port

SUPERUSER = "grader"
RUN_AS_WHEN_ROOT = "nobody"


def bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb (Debian's layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def why_unavailable() -> str | None:
    if bindir() is None:
        return ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                "`make setup` installs it as root (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the PostgreSQL driver is missing: pip install -e '.[postgres]' (make setup does)"
    return None


@dataclass
class PostgresCluster:
    root: Path
    port: int
    password: str
    user: str | None          # OS user the server runs as; None: the current one

    @classmethod
    def start(cls) -> "PostgresCluster":
        user = RUN_AS_WHEN_ROOT if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
        cluster = cls(root=root, port=free_port(), password=secrets.token_hex(16), user=user)
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o700)
        pwfile = root / "pwfile"
        pwfile.write_text(cluster.password + "\n")
        if user:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        cluster._run("initdb", "-D", str(root / "data"), "-U", SUPERUSER, "--pwfile", str(pwfile),
                     "--auth-host=scram-sha-256", "--auth-local=peer", "-E", "UTF8",
                     "--locale=C.UTF-8")
        pwfile.unlink()
        options = (f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        cluster._run("pg_ctl", "start", "-w", "-t", "120", "-D", str(root / "data"),
                     "-l", str(root / "server.log"), "-o", options)
        return cluster

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PGPASSWORD": self.password}
        proc = subprocess.run([str(bindir() / program), *args], user=self.user,
                              group=pwd.getpwnam(self.user).pw_gid if self.user else None,
                              extra_groups=[] if self.user else None,
                              env=env, cwd=self.root, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=180)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}\n{proc.stderr}\n{tail}")
        return proc

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.root / "data"))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
