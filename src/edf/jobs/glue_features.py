"""AWS Glue 5.0 script of the feature job: the same ``edf.jobs.features`` code on a Glue Spark cluster.

Glue runs this file (the job's ``ScriptLocation``, uploaded by Terraform) with the job run's
arguments as ``--key value`` pairs, mixed with Glue's own (``--JOB_ID``, ``--JOB_RUN_ID``,
``--TempDir``, ``--job-bookmark-option``, ...). The ``edf`` wheel and pvlib/holidays reach the
driver and every executor through ``--additional-python-modules`` (docs/spark_engine.md).

What differs from SageMaker Processing is only the launch: Spark is already running (the session
must not pick a local master, hence ``EDF_SPARK_MASTER=submitted``), inputs and outputs are
``s3://`` URIs Spark reads and writes itself, and a failure must surface as an exception - Glue
reports the exception's message as the job run's ``ErrorMessage``, which Step Functions passes on
as the task's cause.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

CORRELATION_ARGUMENT = "--correlation-id"  # Glue runs have no per-run environment; the id comes as an argument


class GlueJobFailed(RuntimeError):
    """The feature job failed; the message is the reason written by the job (shown as ErrorMessage)."""


def job_arguments(argv: list[str], known: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split Glue's ``--key value`` list into the feature job's arguments and the rest.

    Glue always passes a value after each key (``--key=value`` is accepted too). Unknown keys are
    Glue's own or other tooling's and are left out, so the job's strict argument parser never sees them.
    """
    ours: list[str] = []
    others: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--"):
            raise ValueError(f"unexpected job argument {token!r}: Glue passes --key value pairs")
        if "=" in token:
            key, value = token.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise ValueError(f"job argument {token} has no value")
            key, value = token, argv[i + 1]
            i += 2
        if key in known:
            ours += [key, value]
        else:
            others[key] = value
    return ours, others


def main(argv: list[str] | None = None) -> int:
    from edf.features.spark_session import SUBMITTED_MASTER
    from edf.jobs import features

    os.environ.setdefault("EDF_SPARK_MASTER", SUBMITTED_MASTER)
    # the failure reason file of edf.jobs.entrypoint (a SageMaker path does not exist on Glue)
    os.environ.setdefault("EDF_OPT_ML", tempfile.mkdtemp(prefix="edf-glue-"))
    parser_options = {opt for action in features.parser()._actions for opt in action.option_strings}
    args, others = job_arguments(list(sys.argv[1:] if argv is None else argv), parser_options | {CORRELATION_ARGUMENT})
    if CORRELATION_ARGUMENT in args:
        at = args.index(CORRELATION_ARGUMENT)
        os.environ["EDF_CORRELATION_ID"] = args[at + 1]
        del args[at:at + 2]
    if others.get("--JOB_RUN_ID"):
        os.environ.setdefault("EDF_CORRELATION_ID", others["--JOB_RUN_ID"])
    code = features.main(args)
    if code != 0:
        failure = Path(os.environ["EDF_OPT_ML"]) / "output" / "failure"
        reason = failure.read_text().strip() if failure.is_file() else f"feature job exited with code {code}"
        raise GlueJobFailed(reason)
    return 0


if __name__ == "__main__":
    main()
