"""Step Functions intrinsic functions (``States.Format(...)`` and friends) for the local interpreter.

They appear as values of ``"key.$"`` fields in Parameters/ResultSelector/ItemSelector. We parse the
call expression (string literals with ``\\'``/``\\{``/``\\}`` escapes, numbers, booleans, null,
JSONPaths and nested calls) and evaluate it with AWS's semantics, including its argument checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from edf_local import jsonpath
from edf_local.errors import ASLRuntimeError


class IntrinsicSyntaxError(ValueError):
    """The expression is not a well-formed intrinsic function call."""


def is_intrinsic(expr: Any) -> bool:
    """True if ``expr`` looks like an intrinsic call (``States.Name(``)."""
    return isinstance(expr, str) and expr.startswith("States.") and "(" in expr and expr.rstrip().endswith(")")


# ---------------------------------------------------------------- parsing
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, msg: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{msg} at position {self.i} in {self.text!r}")

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def call(self) -> tuple:
        self.ws()
        start = self.i
        while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "._"):
            self.i += 1
        name = self.text[start : self.i]
        if not name.startswith("States."):
            raise self.error("expected an intrinsic function name 'States.<Name>'")
        self.ws()
        if self.i >= len(self.text) or self.text[self.i] != "(":
            raise self.error(f"expected '(' after {name}")
        self.i += 1
        args: list[tuple] = []
        self.ws()
        if self.i < len(self.text) and self.text[self.i] == ")":
            self.i += 1
            return ("call", name, args)
        while True:
            args.append(self.arg())
            self.ws()
            if self.i >= len(self.text):
                raise self.error("unterminated argument list")
            ch = self.text[self.i]
            self.i += 1
            if ch == ")":
                return ("call", name, args)
            if ch != ",":
                raise self.error(f"expected ',' or ')' but found {ch!r}")

    def arg(self) -> tuple:
        self.ws()
        if self.i >= len(self.text):
            raise self.error("missing argument")
        ch = self.text[self.i]
        if ch == "'":
            return ("lit", self.string())
        if ch == "$":
            return ("path", self.path())
        if self.text.startswith("States.", self.i):
            return self.call()
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in ",)" and not self.text[self.i].isspace():
            self.i += 1
        token = self.text[start : self.i]
        if token in ("true", "false", "null"):
            return ("lit", json.loads(token))
        try:
            return ("lit", json.loads(token))
        except ValueError:
            raise self.error(f"unrecognised argument {token!r}") from None

    def string(self) -> str:
        self.i += 1
        out: list[str] = []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and self.i + 1 < len(self.text):
                nxt = self.text[self.i + 1]
                # keep \{ and \} escaped: they matter to States.Format, which unescapes them
                out.append(nxt if nxt in "'\\" else "\\" + nxt)
                self.i += 2
                continue
            if ch == "'":
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise self.error("unterminated string literal")

    def path(self) -> str:
        start = self.i
        depth = 0
        quote = None
        while self.i < len(self.text):
            ch = self.text[self.i]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"" and depth:
                quote = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif depth == 0 and (ch in ",)" or ch.isspace()):
                break
            self.i += 1
        return self.text[start : self.i]


def parse(expr: str) -> tuple:
    """Parse an intrinsic call into a small AST; raise IntrinsicSyntaxError when malformed."""
    p = _Parser(expr.strip())
    node = p.call()
    p.ws()
    if p.i != len(p.text):
        raise p.error("unexpected trailing text")
    _check_names(node)
    return node


def _check_names(node: tuple) -> None:
    if node[0] == "call":
        if node[1] not in FUNCTIONS:
            raise IntrinsicSyntaxError(f"unknown intrinsic function {node[1]}")
        for a in node[2]:
            _check_names(a)
    elif node[0] == "path" and not jsonpath.is_valid(node[1]):
        raise IntrinsicSyntaxError(f"invalid JSONPath {node[1]!r} in intrinsic call")


# ---------------------------------------------------------------- evaluation
def evaluate(expr: str, document: Any, context: Any) -> Any:
    """Evaluate an intrinsic call against the effective input and the context object."""
    try:
        node = parse(expr)
    except IntrinsicSyntaxError as exc:
        raise ASLRuntimeError(str(exc)) from None
    return _eval(node, document, context)


def _eval(node: tuple, document: Any, context: Any) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        try:
            return jsonpath.get(document, node[1], context)
        except jsonpath.PathError as exc:
            raise ASLRuntimeError(str(exc)) from None
    name = node[1]
    args = [_eval(a, document, context) for a in node[2]]
    # \{ and \} escapes in literals only mean something to States.Format's template
    for idx, a in enumerate(node[2]):
        if a[0] == "lit" and isinstance(a[1], str) and not (name == "States.Format" and idx == 0):
            args[idx] = _unescape_literal(a[1])
    try:
        return FUNCTIONS[name](*args)
    except ASLRuntimeError:
        raise
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise ASLRuntimeError(f"{name} failed: {exc}") from None


def _unescape_literal(s: str) -> str:
    return s.replace("\\{", "{").replace("\\}", "}")


def _format(template: str, *args: Any) -> str:
    out: list[str] = []
    it = iter(args)
    i = 0
    used = 0
    while i < len(template):
        if template.startswith("\\{", i) or template.startswith("\\}", i):
            out.append(template[i + 1])
            i += 2
        elif template.startswith("{}", i):
            try:
                value = next(it)
            except StopIteration:
                raise ASLRuntimeError("States.Format: more '{}' placeholders than arguments") from None
            if isinstance(value, (dict, list)):
                raise ASLRuntimeError("States.Format: arguments must be strings, numbers, booleans or null")
            out.append(value if isinstance(value, str) else json.dumps(value))
            used += 1
            i += 2
        else:
            out.append(template[i])
            i += 1
    if used != len(args):
        raise ASLRuntimeError(f"States.Format: {len(args)} arguments for {used} '{{}}' placeholders")
    return "".join(out)


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise ASLRuntimeError(msg)


def _array_partition(arr: list, size: int) -> list:
    _need(isinstance(arr, list) and isinstance(size, int) and size > 0, "States.ArrayPartition(array, size>0)")
    return [arr[i : i + size] for i in range(0, len(arr), size)]


def _array_range(start: int, end: int, step: int) -> list:
    _need(all(isinstance(v, int) for v in (start, end, step)) and step != 0, "States.ArrayRange(int, int, int!=0)")
    out = list(range(start, end + (1 if step > 0 else -1), step))
    _need(len(out) <= 1000, "States.ArrayRange: at most 1000 items")
    return out


def _array_unique(arr: list) -> list:
    _need(isinstance(arr, list), "States.ArrayUnique(array)")
    seen: list[Any] = []
    for v in arr:
        if v not in seen:
            seen.append(v)
    return seen


def _array_get_item(arr: list, index: int) -> Any:
    _need(isinstance(arr, list) and isinstance(index, int) and 0 <= index < len(arr),
          "States.ArrayGetItem(array, index within the array)")
    return arr[index]


def _array_length(arr: list) -> int:
    _need(isinstance(arr, list), "States.ArrayLength takes an array")
    return len(arr)


def _hash(data: Any, algorithm: str) -> str:
    algos = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
    _need(algorithm in algos, f"States.Hash: algorithm must be one of {sorted(algos)}")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.new(algos[algorithm], text.encode()).hexdigest()


def _json_merge(a: dict, b: dict, deep: bool) -> dict:
    _need(isinstance(a, dict) and isinstance(b, dict), "States.JsonMerge(object, object, false)")
    _need(deep is False, "States.JsonMerge: only shallow merge (false) is supported, as in AWS")
    return {**a, **b}


def _math_random(start: int, end: int, seed: int | None = None) -> int:
    _need(isinstance(start, int) and isinstance(end, int) and start <= end, "States.MathRandom(int start, int end)")
    return (random.Random(seed) if seed is not None else random).randint(start, end)  # noqa: S311


def _math_add(a: Any, b: Any) -> int:
    _need(all(isinstance(v, int) and not isinstance(v, bool) for v in (a, b)), "States.MathAdd takes two integers")
    return a + b


def _string_split(s: str, delimiters: str) -> list[str]:
    _need(isinstance(s, str) and isinstance(delimiters, str) and delimiters != "", "States.StringSplit(string, delimiters)")
    parts = [s]
    for d in delimiters:
        parts = [p for part in parts for p in part.split(d)]
    return [p for p in parts if p != ""]


def _string_to_json(s: str) -> Any:
    _need(isinstance(s, str), "States.StringToJson takes a string")
    return json.loads(s)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": lambda template, *args: _format(template, *args),
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda v: json.dumps(v, separators=(",", ":")),
    "States.Array": lambda *args: list(args),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": lambda arr, v: isinstance(arr, list) and v in arr,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": lambda s: base64.b64encode(s.encode()).decode(),
    "States.Base64Decode": lambda s: base64.b64decode(s.encode()).decode(),
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": lambda: str(uuid.uuid4()),
}
