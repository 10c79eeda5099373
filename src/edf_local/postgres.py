"""A throw-away local PostgreSQL server for tests, benchmarks and local runs of the RDS backend.

Finds ``initdb``/``pg_ctl`` on PATH or under Debian's ``/usr/lib/postgresql/*/bin``. ``initdb``
refuses to run as root, so when we are root the cluster is created and run as the unprivileged
``nobody`` user (via ``runuser``, falling back to ``su``), in a fresh directory it owns. The server
listens on 127.0.0.1 at a free port with ``trust`` authentication — never use this for anything
but local, disposable data.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class LocalPostgresError(RuntimeError):
    pass


def find_pg_bin() -> Path:
    """Directory holding initdb and pg_ctl."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    raise LocalPostgresError("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
                             "/usr/lib/postgresql/*/bin; install Debian's `postgresql` package")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return ["su", "-s", "/bin/sh", "nobody", "-c"]  # joined into one string below


def _run(prefix: list[str], argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    if prefix and prefix[0] == "su":
        import shlex

        cmd = [*prefix, " ".join(shlex.quote(a) for a in argv)]
    else:
        cmd = [*prefix, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


@dataclass
class LocalPostgres:
    datadir: Path
    port: int
    bin_dir: Path
    prefix: list[str]

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=edf sslmode=disable connect_timeout=5"

    def stop(self) -> None:
        _run(self.prefix, [str(self.bin_dir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
             timeout=60)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_local_postgres(timeout_seconds: float = 60) -> LocalPostgres:
    """initdb + pg_ctl start on a free port; returns the handle (call ``stop()``)."""
    bin_dir = find_pg_bin()
    prefix = _as_user_prefix()
    root = Path(tempfile.mkdtemp(prefix="edf-pg-"))
    os.chmod(root, 0o755)
    datadir = root / "data"
    datadir.mkdir()
    if prefix:
        shutil.chown(root, "nobody")
        shutil.chown(datadir, "nobody")
    res = _run(prefix, [str(bin_dir / "initdb"), "-D", str(datadir), "-U", "edf", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], timeout=timeout_seconds)
    if res.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise LocalPostgresError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
    port = _free_port()
    opts = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    res = _run(prefix, [str(bin_dir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(root / "server.log"),
                        "-w", "-t", str(int(timeout_seconds)), "start"], timeout=timeout_seconds + 10)
    if res.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise LocalPostgresError(f"pg_ctl start failed: {res.stderr.strip()} {log[-500:]}")
    server = LocalPostgres(datadir, port, bin_dir, prefix)
    deadline = time.time() + timeout_seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.stop()
    raise LocalPostgresError(f"PostgreSQL did not accept connections on port {port}")
