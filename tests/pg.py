"""A private PostgreSQL server for the tests: initdb into a temporary folder, a unix socket
there (no TCP port), trust authentication, one fresh database per test.

Found in ``$PATH`` or Debian's ``/usr/lib/postgresql/<version>/bin``; where there is none the
tests that need it skip, saying so. As root (initdb refuses root) the server runs as the
``postgres`` user. One server per test process, stopped at exit.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

PORT = 5432  # only names the socket file inside our own folder


def pg_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``/``postgres``, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return Path(folder)
    return None


class Cluster:
    """One running server; :meth:`new_database` gives a fresh database's URL."""

    def __init__(self) -> None:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL (initdb) is not installed")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="veriframe-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chmod(self.root, 0o755)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-instructions")
        self.start()
        atexit.register(self.close)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Start (or restart) the server; waits until it accepts connections."""
        opts = (f"-k {self.root} -c listen_addresses='' -p {PORT} -c fsync=on "
                "-c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would)."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={PORT}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


_cluster: Cluster | None = None


def cluster() -> Cluster:
    """The process's server, started on first use; ``pytest.skip`` where there is none."""
    import pytest

    global _cluster
    if _cluster is None:
        if pg_bin() is None:
            pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
        _cluster = Cluster()
    return _cluster
