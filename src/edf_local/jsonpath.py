"""The JSONPath subset Amazon States Language uses, for reading and writing JSON documents.

Step Functions evaluates paths with Jayway JsonPath restricted to "Reference Paths" for
``ResultPath``/``Variable`` and a little more for ``InputPath``/``Parameters``. We support what real
definitions use: ``$``, ``.name``, ``['name']``, ``[n]`` (negative allowed), ``[*]``/``.*`` and
``[a:b]`` slices. Deep scan (``..``) and filters (``[?(...)]``) are rejected with a clear message
rather than silently mis-evaluated.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[^.\[\]\s'\"]+")


class PathError(ValueError):
    """A path is malformed or does not match the document (Step Functions: ``States.Runtime``)."""


@dataclass(frozen=True)
class Segment:
    """One step of a path: a key, an index, a wildcard or a slice."""

    kind: str  # "key" | "index" | "wildcard" | "slice"
    key: str | int | None = None
    stop: int | None = None

    @property
    def is_multi(self) -> bool:
        return self.kind in {"wildcard", "slice"}


def parse(path: str) -> tuple[str, list[Segment]]:
    """Split ``$...`` or ``$$...`` into its root (``$`` or ``$$``) and segments; raise PathError if invalid."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise PathError(f"path {path!r} must start with '$'")
    root = "$$" if path.startswith("$$") else "$"
    i = len(root)
    segs: list[Segment] = []
    n = len(path)
    while i < n:
        c = path[i]
        if path.startswith("..", i):
            raise PathError(f"path {path!r}: deep scan '..' is not supported")
        if c == ".":
            i += 1
            if i < n and path[i] == "*":
                segs.append(Segment("wildcard"))
                i += 1
                continue
            m = _NAME.match(path, i)
            if not m:
                raise PathError(f"path {path!r}: expected a field name at position {i}")
            segs.append(Segment("key", m.group(0)))
            i = m.end()
        elif c == "[":
            close = _find_close(path, i)
            inner = path[i + 1 : close].strip()
            i = close + 1
            if inner == "*":
                segs.append(Segment("wildcard"))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segs.append(Segment("key", inner[1:-1]))
            elif re.fullmatch(r"-?\d+", inner):
                segs.append(Segment("index", int(inner)))
            elif re.fullmatch(r"-?\d*:-?\d*", inner):
                a, b = inner.split(":")
                segs.append(Segment("slice", int(a) if a else None, int(b) if b else None))
            elif inner.startswith("?"):
                raise PathError(f"path {path!r}: filter expressions are not supported")
            else:
                raise PathError(f"path {path!r}: unsupported bracket expression [{inner}]")
        else:
            raise PathError(f"path {path!r}: unexpected character {c!r} at position {i}")
    return root, segs


def _find_close(path: str, start: int) -> int:
    quote = None
    for j in range(start + 1, len(path)):
        ch = path[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise PathError(f"path {path!r}: unclosed '['")


def is_valid(path: str) -> bool:
    """True if ``path`` parses (used by the ASL validator)."""
    try:
        parse(path)
    except PathError:
        return False
    return True


def is_reference_path(path: str) -> bool:
    """True if ``path`` selects a single node (no wildcards/slices): required for ResultPath and Variable."""
    try:
        _, segs = parse(path)
    except PathError:
        return False
    return not any(s.is_multi for s in segs)


def get(document: Any, path: str, context: Any = None) -> Any:
    """Evaluate ``path`` against ``document`` (``$``) or ``context`` (``$$``).

    A path with a wildcard or slice yields the list of matches (as Jayway does); a path that does
    not match raises :class:`PathError` naming the path, which the interpreter reports as
    ``States.Runtime`` exactly like the service.
    """
    root, segs = parse(path)
    current: list[Any] = [context if root == "$$" else document]
    multi = False
    for seg in segs:
        nxt: list[Any] = []
        for node in current:
            nxt.extend(_step(node, seg, path, strict=not multi))
        multi = multi or seg.is_multi
        current = nxt
    if multi:
        return current
    return current[0]


def _step(node: Any, seg: Segment, path: str, strict: bool) -> list[Any]:
    if seg.kind == "key":
        if isinstance(node, dict) and seg.key in node:
            return [node[seg.key]]
    elif seg.kind == "index":
        if isinstance(node, list) and -len(node) <= int(seg.key) < len(node):  # type: ignore[arg-type]
            return [node[int(seg.key)]]  # type: ignore[arg-type]
    elif seg.kind == "wildcard":
        if isinstance(node, dict):
            return list(node.values())
        if isinstance(node, list):
            return list(node)
    elif seg.kind == "slice" and isinstance(node, list):
        return node[seg.key : seg.stop]  # type: ignore[misc]
    if strict:
        raise PathError(f"The JSONPath {path!r} could not be found in the input")
    return []


def exists(document: Any, path: str, context: Any = None) -> bool:
    """True if ``path`` matches something (``IsPresent``)."""
    try:
        get(document, path, context)
    except PathError:
        return False
    return True


def put(document: Any, path: str, value: Any) -> Any:
    """Return a copy of ``document`` with ``value`` placed at reference path ``path`` (ResultPath semantics).

    Missing intermediate objects are created; writing into a non-object is an error, as in AWS.
    """
    root, segs = parse(path)
    if root != "$":
        raise PathError(f"ResultPath {path!r} cannot write into the context object")
    if any(s.is_multi for s in segs):
        raise PathError(f"ResultPath {path!r} must be a reference path (no wildcards or slices)")
    if not segs:
        return value
    out = copy.deepcopy(document)
    if not isinstance(out, (dict, list)):
        raise PathError(f"ResultPath {path!r} cannot be applied: the state input is not a JSON object")
    node = out
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg.kind == "key":
            if not isinstance(node, dict):
                raise PathError(f"ResultPath {path!r}: {seg.key!r} is not inside a JSON object")
            if last:
                node[seg.key] = value
            else:
                if not isinstance(node.get(seg.key), (dict, list)):
                    node[seg.key] = {}
                node = node[seg.key]
        else:
            idx = int(seg.key)  # type: ignore[arg-type]
            if not isinstance(node, list) or not -len(node) <= idx < len(node):
                raise PathError(f"ResultPath {path!r}: index {idx} is out of range")
            if last:
                node[idx] = value
            else:
                node = node[idx]
    return out
