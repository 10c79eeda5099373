"""The lock file (``requirements/*.lock``, hashes per wheel) as the source of the Lambda zips' versions.

The zips copy distributions from the running interpreter, so a zip is only as reproducible as that
environment. CI builds the environment from ``requirements/dev.lock`` (``pip install
--require-hashes``); :func:`check_locked` then refuses to package any bundled distribution whose
installed version is not the locked one, so a zip never carries a version nobody reviewed.
"""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\\]+)", re.M)


class LockMismatch(RuntimeError):
    """Installed distributions differ from the lock file; the message lists each one."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` pin in a pip/uv lock file."""
    text = Path(path).read_text()
    pins = {_norm(name): version for name, version in _PIN.findall(text)}
    if not pins:
        raise LockMismatch(f"{path}: no name==version pins found (not a lock file?)")
    unhashed = [line for line in text.splitlines() if _PIN.match(line) and "--hash=" not in line
                and not line.rstrip().endswith("\\")]
    if unhashed:
        raise LockMismatch(f"{path}: pins without --hash: {unhashed[:3]}")
    return pins


def check_locked(distributions: list[md.Distribution], lock_path: Path) -> None:
    """Raise :class:`LockMismatch` unless every distribution is installed at its locked version."""
    pins = read_lock(lock_path)
    problems = []
    for dist in distributions:
        name, version = dist.metadata["Name"], dist.version
        locked = pins.get(_norm(name))
        if locked is None:
            problems.append(f"{name} {version} is not in {Path(lock_path).name}")
        elif locked != version:
            problems.append(f"{name} is {version}, locked {locked}")
    if problems:
        raise LockMismatch("the environment does not match the lock file (rebuild it with "
                           "`make venv LOCK=requirements/dev.lock` or refresh the lock with `make lock`): "
                           + "; ".join(problems))
