"""What every SageMaker job entrypoint does around its work: logs, failure reason, exit code.

SageMaker reports the contents of ``/opt/ml/output/failure`` as the job's ``FailureReason``, and
Step Functions passes that on as the task's cause, so the one sentence written there is what an
operator sees in the alert. The root is ``$EDF_OPT_ML`` (default ``/opt/ml``); the local job
runner points it at a temp dir laid out the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("edf.jobs")
FAILURE_REASON_MAX = 1024  # SageMaker keeps the first 1024 characters of the failure reason
QUIET_LOGGERS = ("py4j", "cmdstanpy", "prophet", "matplotlib")


def opt_ml() -> Path:
    """The SageMaker root directory of this job."""
    return Path(os.environ.get("EDF_OPT_ML", "/opt/ml"))


def write_failure(reason: BaseException | str) -> None:
    """Record the job's failure reason where SageMaker reads it (best effort outside SageMaker)."""
    text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    target = opt_ml() / "output" / "failure"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text[:FAILURE_REASON_MAX])
    except OSError:  # read-only or absent root (run by hand): the log still has the traceback
        log.warning("could not write the failure reason to %s", target)


def run_job(service: str, what: str, work: Callable[[], object]) -> int:
    """Configure JSON logging (correlation id from ``EDF_CORRELATION_ID``), run ``work``, map errors.

    Returns the process exit code: 0 on success; 1 after logging the traceback and writing the
    failure reason.
    """
    from edf.logging import configure_logging

    configure_logging(service=service)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - every failure must reach the failure file
        log.exception("%s failed", what)
        write_failure(exc)
        return 1
    return 0
