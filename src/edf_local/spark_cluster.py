"""A real multi-process Spark standalone cluster on 127.0.0.1: one master, N workers.

The managed engine in AWS (Glue, docs/spark_engine.md) runs the feature job on several executors in
other JVMs on other hosts; ``local[N]`` never does (one JVM, shared memory, no shuffle service, no
task serialisation to another process). This launcher starts the same deployment shape locally
from pyspark's own launcher (``bin/spark-class org.apache.spark.deploy.master.Master`` / ``...Worker``,
what ``sbin/start-master.sh`` runs), each daemon a child process of ours on free loopback ports, and
stops them afterwards. A job selects it with ``EDF_SPARK_MASTER=<cluster.master_url>``.

    with StandaloneCluster(workers=2, cores_per_worker=1) as cluster:
        env = {**os.environ, **cluster.environment()}
        subprocess.run([sys.executable, "-m", "edf.jobs.features", ...], env=env, check=True)
        cluster.finished_tasks_per_worker()   # evidence that every worker did work

Logs (one file per daemon, and each executor's stdout/stderr under the worker's work dir) are kept
when the cluster fails to start or the ``with`` block raises; otherwise they are removed with the
temp directory unless ``keep_logs`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class ClusterError(RuntimeError):
    """The cluster could not be started (the message names the daemon log to read)."""


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package (has ``bin/spark-class`` and ``jars/``)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").is_file():
        raise ClusterError(f"{home} has no bin/spark-class: this pyspark install cannot launch a standalone cluster")
    return home


def free_port() -> int:
    """A TCP port free on the loopback interface right now (the daemon binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class _Daemon:
    name: str
    process: subprocess.Popen
    log_path: Path
    web_port: int


@dataclass
class StandaloneCluster:
    """Master + ``workers`` workers with ``cores_per_worker`` cores and ``worker_memory`` each.

    ``executor_memory`` is what each executor asks for (must fit in ``worker_memory``); the
    environment it hands to jobs caps the application at one executor per worker
    (``spark.cores.max`` = all cores, ``spark.executor.cores`` = cores per worker).
    """

    workers: int = 2
    cores_per_worker: int = 1
    worker_memory: str = "2g"
    executor_memory: str = "1g"
    start_timeout_s: float = 90.0
    keep_logs: bool = False
    root: Path | None = None
    _daemons: list[_Daemon] = field(default_factory=list, init=False, repr=False)
    _master_port: int = field(default=0, init=False, repr=False)
    _owns_root: bool = field(default=False, init=False, repr=False)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> StandaloneCluster:
        self.start()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.stop(keep_logs=self.keep_logs or exc_type is not None)

    def start(self) -> StandaloneCluster:
        """Start the master, then the workers, and wait until the master lists them all ALIVE."""
        if self.workers < 1 or self.cores_per_worker < 1:
            raise ValueError("a standalone cluster needs at least one worker with at least one core")
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="edf-spark-cluster-"))
            self._owns_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_master()
            for index in range(self.workers):
                self._start_worker(index)
            self._wait_for_workers()
        except BaseException:
            self.stop(keep_logs=True)
            raise
        return self

    def stop(self, keep_logs: bool = False) -> None:
        """Stop every daemon (SIGTERM, then SIGKILL after 10 s); remove the temp dir unless logs are kept."""
        for daemon in reversed(self._daemons):
            _terminate(daemon.process)
        self._daemons.clear()
        if keep_logs or not self._owns_root or self.root is None:
            if self.root is not None and keep_logs:
                print(f"[spark-cluster] logs kept in {self.root}", file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ what jobs use
    @property
    def master_url(self) -> str:
        return f"spark://{LOOPBACK}:{self._master_port}"

    @property
    def master_web_url(self) -> str:
        return f"http://{LOOPBACK}:{self._daemons[0].web_port}"

    def environment(self) -> dict[str, str]:
        """What a job process needs to run on this cluster (read by ``edf.features.spark_session``)."""
        return {
            "EDF_SPARK_MASTER": self.master_url,
            "EDF_SPARK_EXECUTOR_CORES": str(self.cores_per_worker),
            "EDF_SPARK_EXECUTOR_MEMORY": self.executor_memory,
            "EDF_SPARK_CORES_MAX": str(self.workers * self.cores_per_worker),
            "SPARK_LOCAL_IP": LOOPBACK,
        }

    def state(self) -> dict[str, Any]:
        """The master's JSON status page (workers, active and completed applications)."""
        with urllib.request.urlopen(f"{self.master_web_url}/json/", timeout=10) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read().decode())

    def worker_dirs(self) -> list[Path]:
        assert self.root is not None
        return [self.root / f"worker-{i}" / "work" for i in range(self.workers)]

    def finished_tasks_per_worker(self, app_id: str | None = None) -> dict[str, int]:
        """Tasks each worker's executors finished, read from the executors' own logs on that worker.

        This is the workers' side of the story (independent of the driver's bookkeeping): every
        executor logs ``Finished task ... in stage ...`` to ``<work dir>/<app>/<executor>/stderr``.
        """
        counts: dict[str, int] = {}
        for index, work in enumerate(self.worker_dirs()):
            total = 0
            pattern = f"{app_id}/*/stderr" if app_id else "*/*/stderr"
            for log in work.glob(pattern):
                total += sum(1 for line in log.read_text(errors="replace").splitlines() if "Finished task" in line)
            counts[f"worker-{index}"] = total
        return counts

    def daemon_logs(self) -> dict[str, Path]:
        return {d.name: d.log_path for d in self._daemons}

    # ------------------------------------------------------------------ internals
    def _launch(self, name: str, args: list[str], web_port: int, extra_env: dict[str, str]) -> _Daemon:
        assert self.root is not None
        log_path = self.root / f"{name}.log"
        env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK,
               "SPARK_LOG_DIR": str(self.root), "SPARK_NO_DAEMONIZE": "1",
               "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable), **extra_env}
        command = [str(spark_home() / "bin" / "spark-class"), *args]
        with open(log_path, "wb") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True)  # own process group: stop() reaches the JVM
        daemon = _Daemon(name, process, log_path, web_port)
        self._daemons.append(daemon)
        return daemon

    def _start_master(self) -> None:
        self._master_port, web = free_port(), free_port()
        self._launch("master", [MASTER_CLASS, "--host", LOOPBACK, "--port", str(self._master_port),
                                "--webui-port", str(web)], web, {})
        self._wait(lambda: _http_ok(f"http://{LOOPBACK}:{web}/json/"), "master", "answer on its web port")

    def _start_worker(self, index: int) -> None:
        assert self.root is not None
        work = self.root / f"worker-{index}" / "work"
        work.mkdir(parents=True, exist_ok=True)
        web = free_port()
        self._launch(f"worker-{index}", [WORKER_CLASS, self.master_url, "--host", LOOPBACK,
                                         "--port", str(free_port()), "--webui-port", str(web),
                                         "--cores", str(self.cores_per_worker), "--memory", self.worker_memory,
                                         "--work-dir", str(work)], web, {})

    def _wait_for_workers(self) -> None:
        def alive() -> bool:
            workers = self.state().get("workers", [])
            return sum(1 for w in workers if w.get("state") == "ALIVE") >= self.workers

        self._wait(alive, "workers", f"register {self.workers} ALIVE worker(s) with the master")

    def _wait(self, ready: Any, what: str, goal: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for daemon in self._daemons:
                if daemon.process.poll() is not None:
                    raise ClusterError(f"Spark {daemon.name} exited with code {daemon.process.returncode} "
                                       f"while starting; log: {daemon.log_path}")
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.5)
        logs = ", ".join(str(d.log_path) for d in self._daemons)
        raise ClusterError(f"Spark {what} did not {goal} within {self.start_timeout_s:.0f} s; logs: {logs}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
        return resp.status == 200


def _terminate(process: subprocess.Popen) -> None:
    """SIGTERM the daemon's process group (the JVM spark-class execs into), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
