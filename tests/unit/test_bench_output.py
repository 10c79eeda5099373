"""Benchmarks print one JSON line per measured case on stdout; prose goes to stderr (issue 17, item 5)."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHES = sorted(p for p in (REPO / "bench").glob("*.py") if not p.name.startswith("_"))


def _stdout_prints(tree: ast.AST) -> list[ast.Call]:
    """``print`` calls that write to stdout (no ``file=`` argument)."""
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            and not any(k.arg == "file" for k in node.keywords)]


def test_all_benchmarks_are_checked():
    assert {p.stem for p in BENCHES} == {"features", "models", "monitoring", "optimization", "portfolio", "serving"}


@pytest.mark.parametrize("path", BENCHES, ids=lambda p: p.stem)
def test_a_benchmark_writes_only_json_to_stdout(path):
    """Every stdout print is ``print(json.dumps(...))``; tables and progress go through ``note``/stderr."""
    tree = ast.parse(path.read_text())
    for call in _stdout_prints(tree):
        arg = call.args[0] if len(call.args) == 1 else None
        assert isinstance(arg, ast.Call) and ast.unparse(arg.func) == "json.dumps", (
            f"{path.name}:{call.lineno} prints to stdout something that is not a JSON line: {ast.unparse(call)}")
    emits = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "emit"]
    assert emits or _stdout_prints(tree), f"{path.name} reports no case"
    for call in emits:
        assert len(call.args) == 2 and isinstance(call.args[0], ast.Constant) and call.args[0].value == path.stem, (
            f"{path.name}:{call.lineno}: emit(<bench name>, <case>, ...)")


def _report_module():
    spec = importlib.util.spec_from_file_location("bench_report", REPO / "bench" / "_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_emit_writes_standard_json(capsys):
    record = _report_module().emit("x", "c1", seconds=np.float64(1.5), rows=np.int64(3), coverage=math.nan)
    line = capsys.readouterr().out
    assert line.endswith("\n") and line.count("\n") == 1
    parsed = json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert parsed == record
    assert parsed["bench"] == "x" and parsed["case"] == "c1" and parsed["seconds"] == 1.5 and parsed["rows"] == 3
    assert parsed["coverage"] is None and isinstance(parsed["load_avg_1m"], float)


@pytest.mark.slow
def test_optimization_bench_at_a_tiny_size_prints_json_lines_only():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "optimization.py"), "--sizes", "5", "8", "--hours", "6"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert [(r["bench"], r["case"]) for r in records] == [("optimization", "portfolio_5x6h_peak"),
                                                          ("optimization", "portfolio_8x6h_peak")]
    for r in records:
        assert r["seconds"] == r["portfolio_s"] > 0 and r["peak_rss_mb"] > 0 and r["status"] == "optimal"
    assert "peak RSS MB" in proc.stderr and "growth 5 -> 8" in proc.stderr
