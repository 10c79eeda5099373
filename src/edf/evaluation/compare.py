"""Which of two models is better on a metric, and the challenger-vs-champion verdict.

Plain Python (no numpy/pandas): the model registry imports it, and the registry Lambdas ship without
the pandas layer. One home for "better" so the evaluation job (same-window comparison) and
``edf models compare`` (report vs report) judge alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

METRICS = ("mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct", "pinball", "coverage")
LOWER_IS_BETTER = frozenset({"mape_pct", "rmse", "mae", "cv_rmse_pct", "pinball"})
# signed bias: closer to zero is better
ABS_LOWER_IS_BETTER = frozenset({"nmbe_pct"})
# coverage is judged against the nominal interval width, not by size: no "better" for it

BETTER, NOT_WORSE, WORSE, NOT_COMPARED = "better", "not_worse", "worse", "not_compared"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def better_of(metric: str, challenger: Any, champion: Any) -> str | None:
    """``"challenger"``, ``"champion"``, ``"equal"``, or None (missing value or not comparable by size)."""
    a, b = _number(challenger), _number(champion)
    if a is None or b is None or metric not in LOWER_IS_BETTER | ABS_LOWER_IS_BETTER:
        return None
    if metric in ABS_LOWER_IS_BETTER:
        a, b = abs(a), abs(b)
    if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        return "equal"
    return "challenger" if a < b else "champion"


def metric_table(challenger: Mapping[str, Any], champion: Mapping[str, Any] | None,
                 metrics: Iterable[str] = METRICS) -> dict[str, dict[str, Any]]:
    """Per metric: both values, ``delta`` = challenger - champion, and which is better."""
    table = {}
    for name in metrics:
        a = _number(challenger.get(name))
        b = _number(champion.get(name)) if champion else None
        table[name] = {"challenger": a, "champion": b, "delta": None if a is None or b is None else a - b,
                       "better": better_of(name, a, b)}
    return table


def verdict(challenger: Any, champion: Any, margin: float) -> tuple[str, float | None]:
    """Verdict on a lower-is-better metric with a relative ``margin``, and the relative delta.

    ``worse`` when challenger > champion x (1 + margin); ``better`` when strictly lower;
    ``not_worse`` otherwise (equal or within the margin); ``not_compared`` when either is missing.
    """
    a, b = _number(challenger), _number(champion)
    if a is None or b is None:
        return NOT_COMPARED, None
    relative = (a - b) / abs(b) if b else None
    if a > b + abs(b) * margin and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        return WORSE, relative
    if a < b and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        return BETTER, relative
    return NOT_WORSE, relative
