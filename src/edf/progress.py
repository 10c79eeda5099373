"""Progress of long commands (``edf backtest``, ``edf features build``, ``edf workflow run``, ``edf demo``).

On a terminal a ``tqdm`` bar on stderr shows steps done of the total, elapsed time and the time left,
redrawn in place; lines printed through :meth:`Progress.print` appear above it. Where nobody watches
a terminal - CI, log files, pipes - redrawing would fill the log with carriage returns, so each step
becomes one plain line instead::

    [progress] backtest: 3/7 done (xgboost fitted), 0:42 elapsed, ~1:38 left

The time left is the mean time per step so far times the steps remaining: rough when steps differ in
cost, and stated as an estimate (``~``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

PREFIX = "[progress]"


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Steps done of ``total`` for ``label``; interactive bar or plain lines (see the module docstring).

    ``interactive`` defaults to whether ``stream`` (stderr) is a terminal. ``total`` may grow
    (:meth:`set_total`) when the work turns out larger than first known.
    """

    def __init__(self, label: str, total: int, *, stream: IO[str] | None = None, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, unit: str = "step") -> None:
        self.label = label
        self.total = max(int(total), 0)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = _is_terminal(self.stream) if interactive is None else interactive
        self._clock = clock
        self._started = clock()
        self._bar: Any = None
        if self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, unit=unit, file=self.stream, dynamic_ncols=True,
                             bar_format="{desc}: {n_fmt}/{total_fmt} {bar} [{elapsed} elapsed, {remaining} left] {postfix}")

    # ------------------------------------------------------------------ reporting
    def step(self, what: str = "", n: int = 1) -> None:
        """``n`` more steps done; ``what`` names the one just finished."""
        self.done += n
        if self.done > self.total:
            self.set_total(self.done)
        if self._bar is not None:
            self._bar.set_postfix_str(what, refresh=False)
            self._bar.update(n)
        else:
            self.stream.write(self.line(what) + "\n")
            self.stream.flush()

    def set_total(self, total: int) -> None:
        self.total = max(int(total), self.done)
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def line(self, what: str = "") -> str:
        """The plain-line form of the current state."""
        elapsed = self._clock() - self._started
        text = f"{PREFIX} {self.label}: {self.done}/{self.total} done"
        text += f" ({what})" if what else ""
        text += f", {_clock(elapsed)} elapsed"
        if 0 < self.done < self.total:
            text += f", ~{_clock(elapsed / self.done * (self.total - self.done))} left"
        return text

    def print(self, line: str) -> None:
        """Print a line on stdout without breaking the bar (a printer for the local runtime)."""
        if self._bar is not None:
            from tqdm import tqdm

            tqdm.write(str(line), file=sys.stdout)
        else:
            print(line, flush=True)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
