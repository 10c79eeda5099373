"""Validation of ``processed_edf_data`` against the contract.

Used by the ``ValidateSchema`` workflow step and ``edf data validate``. Every violated rule
yields one :class:`Finding` that names the rule, the column and up to five offending rows, so
whoever owns the upstream feed can fix it without re-running anything. Net export (negative
consumption) and missing hours are real-world conditions, reported as warnings with their size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edf.data import contract as c

MAX_EXAMPLES = 5


@dataclass
class Finding:
    rule: str
    column: str
    message: str
    count: int
    examples: list[dict] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"[{self.rule}] column {self.column!r}: {self.message} ({self.count} row(s))"]
        for row in self.examples:
            lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
        return "\n".join(lines)


@dataclass
class ValidationReport:
    rows: int
    buildings: int
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        head = f"{self.rows} rows, {self.buildings} buildings: " + (
            "VALID" if self.ok else f"INVALID ({len(self.errors)} rule(s) violated)"
        )
        parts = [head]
        parts += ["ERROR " + f.render() for f in self.errors]
        parts += ["WARNING " + f.render() for f in self.warnings]
        return "\n".join(parts)

    def to_dict(self) -> dict:
        def _f(x: Finding) -> dict:
            return {"rule": x.rule, "column": x.column, "message": x.message, "count": x.count,
                    "examples": x.examples}

        return {"valid": self.ok, "rows": self.rows, "buildings": self.buildings,
                "errors": [_f(e) for e in self.errors], "warnings": [_f(w) for w in self.warnings]}


class ContractViolation(ValueError):
    """Raised by :func:`require_valid` with the rendered report as its message."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.render())
        self.report = report


def _examples(df: pd.DataFrame, mask: pd.Series, columns: list[str]) -> list[dict]:
    cols = [col for col in dict.fromkeys([c.BUILDING_ID, c.TIMESTAMP, *columns]) if col in df.columns]
    sample = df.loc[mask, cols].head(MAX_EXAMPLES)
    out = []
    for idx, row in sample.iterrows():
        out.append({"row": int(idx) if isinstance(idx, int | np.integer) else str(idx),
                    **{k: (None if pd.isna(v) else str(v)) for k, v in row.items()}})
    return out


def _type_ok(series: pd.Series, kind: str) -> bool:
    if kind == "string":
        return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
    if kind == "timestamp":
        return pd.api.types.is_datetime64_any_dtype(series)
    if kind == "double":
        return pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series)
    if kind == "int01":
        return pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series) or (
            pd.api.types.is_float_dtype(series) and series.dropna().isin([0.0, 1.0]).all()
        )
    raise ValueError(kind)


def validate_processed(df: pd.DataFrame, target: str = c.CONSUMPTION,
                       covariates: Sequence[str] = ()) -> ValidationReport:
    """Check a ``processed_edf_data`` frame; never raises for bad data, returns every finding.

    ``covariates`` are the extra numeric columns declared in ``edf_feature_eng.covariates``: each
    may be absent (files without them still work) and, when present, must be numeric and finite.
    A null target value is a gap (a counted warning), not a violation.

    The checks run as named steps in a fixed order (so reports are stable): columns, types,
    required nulls, building ids, timestamps, duplicate keys, finiteness, flags and signs, physical
    ranges, then the warnings that need clean keys (missing hours, implausible consumption jumps).
    """
    report = ValidationReport(rows=len(df), buildings=int(df[c.BUILDING_ID].nunique()) if c.BUILDING_ID in df else 0)
    missing = _check_columns(df, report)
    if len(df) == 0:
        report.errors.append(Finding("empty", "*", "dataset has no rows", 0))
        return report
    typed_ok = _check_types(df, missing, report)
    _check_required_nulls(df, c.required_columns(target) - {target}, missing, report)
    if target not in missing:
        _target_gaps(df, target, report)
    _covariate_checks(df, covariates, report)
    _check_building_ids(df, typed_ok, report)
    ts_ok = _check_timestamps(df, typed_ok, report)
    _check_duplicate_keys(df, report)
    _check_finite(df, typed_ok, report)
    _check_flags_and_signs(df, typed_ok, report)
    _check_physical_ranges(df, typed_ok, report)
    if ts_ok and c.BUILDING_ID in df:
        _gap_warnings(df, report)
        _jump_warnings(df, typed_ok, report)
    return report


def _target_gaps(df: pd.DataFrame, target: str, report: ValidationReport) -> None:
    """Null target values are meter gaps: counted as a warning (training skips them, scoring never
    counts them). A target with no value at all is an error: there is nothing to train or score."""
    nulls = df[target].isna()
    if nulls.all():
        report.errors.append(Finding("null_in_required", target, "the target column has no values", int(nulls.sum()),
                                     _examples(df, nulls, [target])))
    elif nulls.any():
        report.warnings.append(Finding(
            "missing_target", target, f"{int(nulls.sum())} null target value(s) ({100 * nulls.mean():.1f} %): "
            "gaps are skipped in training and counted as missing, never scored", int(nulls.sum()),
            _examples(df, nulls, [target])))


def _covariate_checks(df: pd.DataFrame, covariates: Sequence[str], report: ValidationReport) -> None:
    """Declared extra covariates are optional; when present they must be numeric and finite."""
    for name in covariates:
        if name not in df.columns or df[name].isna().all():
            continue
        if not _type_ok(df[name], "double"):
            report.errors.append(Finding("wrong_type", name, f"declared covariate must be numeric, found dtype "
                                         f"{df[name].dtype}", len(df), _examples(df, df[name].notna(), [name])))
            continue
        values = df[name].to_numpy(dtype="float64", na_value=np.nan)
        bad = pd.Series(~np.isfinite(values) & ~np.isnan(values), index=df.index)
        if bad.any():
            report.errors.append(Finding("non_finite", name, "values must be finite (no inf)", int(bad.sum()),
                                         _examples(df, bad, [name])))


def _check_columns(df: pd.DataFrame, report: ValidationReport) -> list[str]:
    missing = [col.name for col in c.PROCESSED_COLUMNS if col.name not in df.columns]
    for name in missing:
        report.errors.append(Finding("missing_column", name, "required column is absent", len(df)))
    return missing


def _check_types(df: pd.DataFrame, missing: list[str], report: ValidationReport) -> set[str]:
    """Names of the columns whose dtype matches the contract (later steps check only those)."""
    typed_ok: set[str] = set()
    for col in c.PROCESSED_COLUMNS:
        if col.name in missing:
            continue
        s = df[col.name]
        if s.isna().all() and col.nullable:
            typed_ok.add(col.name)  # an all-null optional column carries no type to check
            continue
        if not _type_ok(s, col.kind):
            report.errors.append(Finding("wrong_type", col.name, f"expected {col.kind}, found dtype {s.dtype}",
                                         len(df), _examples(df, s.notna(), [col.name])))
        else:
            typed_ok.add(col.name)
    return typed_ok


def _check_required_nulls(df: pd.DataFrame, required: set[str], missing: list[str], report: ValidationReport) -> None:
    for name in sorted(required - set(missing)):
        nulls = df[name].isna()
        if nulls.any():
            report.errors.append(Finding("null_in_required", name, "required column has nulls", int(nulls.sum()),
                                         _examples(df, nulls, [name])))


def _check_building_ids(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> None:
    """Ids are strings of the allowed alphabet; 123 and '123' are different keys downstream, so a
    column mixing Python types (an object column of str and int) is rejected, not coerced."""
    if c.BUILDING_ID not in typed_ok:
        return
    raw = df[c.BUILDING_ID]
    not_str = raw.notna() & ~raw.map(lambda v: isinstance(v, str))
    if not_str.any():
        mixed = bool((raw.notna() & ~not_str).any())
        kinds = sorted({type(v).__name__ for v in raw[raw.notna()]})
        report.errors.append(Finding(
            "mixed_id_types" if mixed else "non_string_id", c.BUILDING_ID,
            f"building ids must all be strings; found Python types {', '.join(kinds)} (e.g. 123 and '123' "
            "would be two buildings)", int(not_str.sum()), _examples(df, not_str, [])))
    ids = raw.astype("string")
    bad = ids.notna() & ~ids.fillna("").str.fullmatch(c.BUILDING_ID_PATTERN.pattern)
    if bad.any():
        report.errors.append(Finding("invalid_building_id", c.BUILDING_ID, "must match [A-Za-z0-9_-]{1,64}",
                                     int(bad.sum()), _examples(df, bad, [])))


def _check_timestamps(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> bool:
    """True when the timestamps are UTC and usable by the key-based warnings."""
    if c.TIMESTAMP not in typed_ok:
        return False
    ts = df[c.TIMESTAMP]
    tz = getattr(ts.dt, "tz", None)
    if tz is None or str(tz) not in ("UTC", "utc", "UTC+00:00"):
        report.errors.append(Finding(
            "timestamp_not_utc", c.TIMESTAMP,
            f"timestamps must be timezone-aware UTC, found {'naive' if tz is None else tz}",
            len(df), _examples(df, ts.notna(), [])))
        return False
    misaligned = ts.notna() & (ts != ts.dt.floor("h"))
    if misaligned.any():
        report.errors.append(Finding("timestamp_not_hour_aligned", c.TIMESTAMP, "must be the start of an hour",
                                     int(misaligned.sum()), _examples(df, misaligned, [])))
    return True


def _check_duplicate_keys(df: pd.DataFrame, report: ValidationReport) -> None:
    if c.BUILDING_ID in df and c.TIMESTAMP in df:
        dup = df.duplicated([c.BUILDING_ID, c.TIMESTAMP], keep=False) & df[c.TIMESTAMP].notna()
        if dup.any():
            report.errors.append(Finding("duplicate_key", f"{c.BUILDING_ID},{c.TIMESTAMP}",
                                         "more than one row for a building and hour", int(dup.sum()),
                                         _examples(df, dup, [])))


def _as_float(df: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(df[name], errors="coerce").astype("float64")


def _check_finite(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> None:
    for col in c.PROCESSED_COLUMNS:
        if col.kind != "double" or col.name not in typed_ok:
            continue
        values = _as_float(df, col.name)
        nonfinite = values.notna() & ~np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))
        if nonfinite.any():
            report.errors.append(Finding("non_finite", col.name, "values must be finite (no inf)",
                                         int(nonfinite.sum()), _examples(df, nonfinite, [col.name])))


def _check_flags_and_signs(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> None:
    err, warn = report.errors.append, report.warnings.append
    if c.HOLIDAY in typed_ok:
        flag = df[c.HOLIDAY]
        bad_flag = flag.notna() & ~flag.isin([0, 1, True, False])
        if bad_flag.any():
            err(Finding("not_0_1", c.HOLIDAY, "must be 0 or 1", int(bad_flag.sum()), _examples(df, bad_flag, [c.HOLIDAY])))
    if c.CONSUMPTION in typed_ok:
        neg = df[c.CONSUMPTION] < 0
        if neg.any():
            warn(Finding("net_export", c.CONSUMPTION, "negative consumption (site exports); kept as measured",
                         int(neg.sum()), _examples(df, neg, [c.CONSUMPTION])))
    if c.SOLAR in typed_ok:
        neg = df[c.SOLAR] < 0
        if neg.any():
            err(Finding("negative_generation", c.SOLAR, "PV generation cannot be negative", int(neg.sum()),
                        _examples(df, neg, [c.SOLAR])))
    for name in c.WEATHER_COLUMNS:
        if name in df and name in typed_ok and df[name].isna().all():
            warn(Finding("no_weather", name, "column is entirely null; models use calendar and history", len(df)))


def _check_physical_ranges(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> None:
    """Weather outside what the atmosphere allows is a unit or sensor error (see contract.PHYSICAL_RANGES)."""
    for name, (low, high) in c.PHYSICAL_RANGES.items():
        if name not in typed_ok:
            continue
        values = _as_float(df, name)
        finite = values.notna() & np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))
        outside = finite & ((values < low) | (values > high))
        if outside.any():
            report.errors.append(Finding(
                "out_of_physical_range", name, f"values must lie in [{low:g}, {high:g}] "
                f"(found {values[outside].min():g} .. {values[outside].max():g})", int(outside.sum()),
                _examples(df, outside, [name])))


def _jump_warnings(df: pd.DataFrame, typed_ok: set[str], report: ValidationReport) -> None:
    """Hour-to-hour consumption changes beyond CONSUMPTION_JUMP_FACTOR x the building's p95 |consumption|."""
    if c.CONSUMPTION not in typed_ok:
        return
    frame = df[[c.BUILDING_ID, c.TIMESTAMP, c.CONSUMPTION]].dropna()
    frame = frame.assign(**{c.CONSUMPTION: _as_float(frame, c.CONSUMPTION)})
    frame = frame[np.isfinite(frame[c.CONSUMPTION])].sort_values([c.BUILDING_ID, c.TIMESTAMP])
    if frame.empty:
        return
    by = frame.groupby(c.BUILDING_ID, sort=False)
    scale = by[c.CONSUMPTION].transform(lambda s: s.abs().quantile(0.95))
    hours = by[c.CONSUMPTION].transform("size")
    step_ok = by[c.TIMESTAMP].diff() == pd.Timedelta(hours=1)
    change = by[c.CONSUMPTION].diff().abs()
    jump = step_ok & (hours >= c.CONSUMPTION_JUMP_MIN_HOURS) & (scale > 0) & (change > c.CONSUMPTION_JUMP_FACTOR * scale)
    if jump.any():
        report.warnings.append(Finding(
            "implausible_consumption_jump", c.CONSUMPTION,
            f"hour-to-hour change above {c.CONSUMPTION_JUMP_FACTOR:g}x the building's 95th percentile of "
            f"|consumption| in {frame.loc[jump, c.BUILDING_ID].nunique()} building(s); kept as measured",
            int(jump.sum()), _examples(df, df.index.isin(frame.index[jump]), [c.CONSUMPTION])))


def _gap_warnings(df: pd.DataFrame, report: ValidationReport) -> None:
    frame = df[[c.BUILDING_ID, c.TIMESTAMP]].dropna().drop_duplicates().sort_values([c.BUILDING_ID, c.TIMESTAMP])
    step = frame.groupby(c.BUILDING_ID)[c.TIMESTAMP].diff()
    gap_hours = (step / pd.Timedelta(hours=1)) - 1
    gaps = gap_hours > 0
    if gaps.any():
        per_building = gap_hours[gaps].groupby(frame.loc[gaps, c.BUILDING_ID]).sum().astype(int)
        examples = [
            {"building_id": b, "missing_hours": int(h),
             "largest_gap_hours": int(gap_hours[gaps & (frame[c.BUILDING_ID] == b)].max())}
            for b, h in per_building.sort_values(ascending=False).head(MAX_EXAMPLES).items()
        ]
        report.warnings.append(Finding(
            "missing_hours", c.TIMESTAMP,
            f"{int(gap_hours[gaps].sum())} missing hour(s) in {int(gaps.sum())} gap(s) across "
            f"{len(per_building)} building(s); gaps stay missing (never zero-filled)",
            int(gaps.sum()), examples))


def require_valid(df: pd.DataFrame, target: str = c.CONSUMPTION) -> ValidationReport:
    """Validate and raise :class:`ContractViolation` when any rule is broken."""
    report = validate_processed(df, target)
    if not report.ok:
        raise ContractViolation(report)
    return report
