"""Peak memory of a local job or Lambda, and the memory ceiling AWS would give it.

SageMaker kills a container that outgrows its instance and Lambda ends an invocation that outgrows
its configured memory (``Runtime.OutOfMemory``). Locally the process (and, for Spark jobs, the JVM it
starts) shares a laptop with everything else, so nothing would stop it: :class:`MemoryWatch` samples
the resident memory of the process tree, records its peak, and kills the tree when it passes the
ceiling, so a job or handler that would die in AWS dies here too.
"""

from __future__ import annotations

import threading
import time

import psutil

#: Memory (GiB) of the SageMaker instance types the config may name; an unknown type is not capped.
INSTANCE_MEMORY_GIB = {
    "ml.t3.medium": 4, "ml.t3.large": 8, "ml.t3.xlarge": 16, "ml.t3.2xlarge": 32,
    "ml.m5.large": 8, "ml.m5.xlarge": 16, "ml.m5.2xlarge": 32, "ml.m5.4xlarge": 64, "ml.m5.12xlarge": 192,
    "ml.m6i.large": 8, "ml.m6i.xlarge": 16, "ml.m6i.2xlarge": 32, "ml.m6i.4xlarge": 64,
    "ml.c5.large": 4, "ml.c5.xlarge": 8, "ml.c5.2xlarge": 16, "ml.c5.4xlarge": 32,
    "ml.r5.large": 16, "ml.r5.xlarge": 32, "ml.r5.2xlarge": 64, "ml.r5.4xlarge": 128,
}


def instance_memory_mb(instance_type: str | None) -> int | None:
    """The instance's memory in MiB, or None for a type this table does not know."""
    gib = INSTANCE_MEMORY_GIB.get(instance_type or "")
    return gib * 1024 if gib else None


def tree_cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and its descendants so far (0 once it is gone)."""
    total = 0.0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for member in members:
        try:
            t = member.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def tree_rss_bytes(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (0 once it is gone)."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


class MemoryWatch:
    """Sample a process tree's RSS every ``interval`` seconds; kill it above ``limit_mb`` (if given).

    Use as a context manager around the wait for the process; afterwards ``peak_mb`` holds the
    highest sample and ``exceeded`` tells whether the ceiling was hit (the tree was killed).
    """

    def __init__(self, pid: int, limit_mb: float | None = None, interval: float = 0.1) -> None:
        self.pid = pid
        self.limit_mb = limit_mb
        self.interval = interval
        self.peak_mb = 0.0
        self.cpu_seconds = 0.0  # CPU the tree used, as of the last sample before it ended
        self.cpu_limit_s: float | None = None  # kill the tree once it has used this much CPU (set any time)
        self.exceeded = False
        self.cpu_exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"memory-watch-{pid}", daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            mb = tree_rss_bytes(proc) / 2**20
            self.peak_mb = max(self.peak_mb, mb)
            self.cpu_seconds = max(self.cpu_seconds, tree_cpu_seconds(proc))
            if self.limit_mb is not None and mb > self.limit_mb:
                self.exceeded = True
                kill_tree(proc)
                return
            if self.cpu_limit_s is not None and self.cpu_seconds > self.cpu_limit_s:
                self.cpu_exceeded = True
                kill_tree(proc)
                return
            time.sleep(self.interval)


def kill_tree(proc: psutil.Process) -> None:
    """SIGKILL a process and its descendants (what the kernel's OOM killer does to a container)."""
    try:
        members = [*proc.children(recursive=True), proc]
    except psutil.Error:
        members = [proc]
    for member in members:
        try:
            member.kill()
        except psutil.Error:
            continue
