"""Errors shared by the local runtime (interpreter, job runner, Lambda invoker, dispatch).

Step Functions reasons about failures only through an *error name* and a *cause* string: Retry and
Catch match on the name, and the cause is what an operator reads. Every local launcher therefore
reports failure as :class:`TaskFailed` carrying exactly those two fields, named as AWS names them,
so the same ASL Retry/Catch blocks behave identically on a laptop and in the cloud.
"""

from __future__ import annotations


class TaskFailed(Exception):  # noqa: N818 - the name mirrors Step Functions' "task failed" event
    """A task failed with a Step Functions error name (e.g. ``States.TaskFailed``) and a cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class ASLRuntimeError(TaskFailed):
    """The definition or its data cannot be processed (AWS: ``States.Runtime``; never retried or caught)."""

    def __init__(self, cause: str) -> None:
        super().__init__("States.Runtime", cause)


class EmulatorError(RuntimeError):
    """The emulated AWS endpoint could not be started or provisioned."""
