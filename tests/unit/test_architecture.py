"""The package boundaries hold: what ships (``edf``) never imports what emulates (``edf_local``),
neither package has an import cycle, and the model code imports without Spark.

Imports are read from the source with ``ast`` (every ``import`` statement, including the lazy ones
inside functions), so a boundary broken only on a rarely used code path is still caught.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import``/``from ... import`` in ``path`` names (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same source tree it imports."""
    modules = {module_name(p): p for p in (SRC / package).rglob("*.py")}
    known = set(modules) | {module_name(p) for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {m for m in imported_modules(path) if m in known and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the modules of ``graph`` (package ``__init__`` edges included), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_edf_never_imports_edf_local():
    offenders = {mod: sorted(m for m in deps if m.split(".")[0] == "edf_local")
                 for mod, deps in import_graph("edf").items()}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"edf modules importing the emulation package: {offenders}"


@pytest.mark.parametrize("package", ["edf", "edf_local"])
def test_no_import_cycles(package):
    graph = import_graph(package)
    # a submodule importing its own package's __init__ is how Python loads it, not a cycle
    graph = {mod: {d for d in deps if not mod.startswith(d + ".")} for mod, deps in graph.items()}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_emulation_module_left_in_edf():
    leftovers = sorted(str(p.relative_to(SRC)) for p in (SRC / "edf").rglob("*.py")
                       if p.stem.startswith("local") or "local" in p.relative_to(SRC / "edf").parts[:-1])
    assert leftovers == []


@pytest.mark.slow
def test_edf_models_imports_without_pyspark(tmp_path):
    """``import edf.models`` (and every strategy module) with pyspark made unimportable."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(textwrap.dedent("""
        import importlib.abc, sys

        class _NoSpark(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "pyspark" or name.startswith("pyspark.") or name == "py4j" or name.startswith("py4j."):
                    raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
                return None

        sys.meta_path.insert(0, _NoSpark())
    """))
    code = ("import edf.models, edf.models.base, edf.models.baselines, edf.models.xgboost_strategy, "
            "edf.models.bundle, edf.evaluation.metrics, edf.data.feature_names, sys; "
            "assert 'pyspark' not in sys.modules; "
            "import importlib; "
            "ok = False\n"
            "try:\n    importlib.import_module('pyspark')\nexcept ModuleNotFoundError:\n    ok = True\n"
            "assert ok, 'pyspark was not hidden'\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": f"{tmp_path}{':'}{SRC}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")
