"""States done of a local workflow run, for ``edf workflow run`` and ``edf demo``.

The interpreter tells :meth:`WorkflowProgress.state` about every state (its ``state_listener``);
each top-level state that ends is a step of an :class:`edf.progress.Progress`. The total is the
number of states on the shortest path from ``StartAt`` to a ``Succeed`` state (Catch routes aside):
the states a successful run passes. A run that takes a longer route (a failure notification, an
optional branch) grows the total as it goes. Runtime lines (``[sfn]``, ``[sagemaker]``) go through
:meth:`print` so a terminal bar is not broken by them.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from typing import Any

from edf.progress import Progress


def success_path_states(definition: dict[str, Any]) -> int:
    """States on the shortest Next/Choice/Default path from StartAt to a Succeed state (all states if none)."""
    states = definition.get("States") or {}
    start = definition.get("StartAt")
    seen = {start: 1}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        state = states.get(name) or {}
        if state.get("Type") == "Succeed":
            return seen[name]
        following = [state.get("Next"), state.get("Default"), *(c.get("Next") for c in state.get("Choices", []))]
        for nxt in following:
            if nxt and nxt in states and nxt not in seen:
                seen[nxt] = seen[name] + 1
                queue.append(nxt)
    return len(states)


class WorkflowProgress:
    """Printer and state listener of a :class:`~edf_local.runtime.LocalRuntime`, one bar per workflow run."""

    def __init__(self, stream: Any = None, interactive: bool | None = None) -> None:
        self.stream = stream
        self.interactive = interactive
        self.current: Progress | None = None

    def print(self, line: str) -> None:
        if self.current is not None:
            self.current.print(line)
        else:
            print(line, flush=True)

    def state(self, event: str, name: str, depth: int) -> None:
        if self.current is not None and depth == 0 and event in ("exited", "failed"):
            self.current.step(name if event == "exited" else f"{name} failed")

    @contextlib.contextmanager
    def run(self, workflow: str, definition: dict[str, Any]) -> Iterator[Progress]:
        """Show progress of one workflow run (use around ``LocalRuntime.run``)."""
        self.current = Progress(f"{workflow} workflow", success_path_states(definition), stream=self.stream,
                                interactive=self.interactive, unit="state")
        try:
            yield self.current
        finally:
            self.current.close()
            self.current = None
