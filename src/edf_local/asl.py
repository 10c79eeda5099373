"""Static validation of Amazon States Language definitions.

Used three ways: the local interpreter refuses to run an invalid definition (as CreateStateMachine
would refuse to deploy it), tests check ``pipelines/*.asl.json`` before any run, and the emulator
answers ``states:ValidateStateMachineDefinition`` (called by the Terraform AWS provider) with these
findings instead of a blanket OK.

Checks: structure (StartAt, States, Type), fields allowed per state type, transitions (Next,
Default, Catch Next) pointing at existing states, exactly one of Next/End, at least one terminal
state and every state reachable, Choice rules (one operator, reference paths), Retry/Catch shape
(``States.ALL`` alone and last), JSONPath syntax in every path field and ``.$`` key, intrinsic
function syntax, and Parallel/Map sub-machines recursively. With ``for_local=True`` it also flags
features the local interpreter does not run (JSONata, ``.waitForTaskToken``, distributed Map).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edf_local import intrinsics, jsonpath
from edf_local.choice import COMPARISON_OPERATORS

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
ALLOWED_FIELDS: dict[str, set[str]] = {
    "Task": _COMMON | _IO | _FLOW | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
                                     "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
                                     "HeartbeatSecondsPath", "Credentials"},
    "Pass": _COMMON | _IO | _FLOW | {"Result", "ResultPath", "Parameters"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Map": _COMMON | _IO | _FLOW | {"Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "Parameters",
                                    "MaxConcurrency", "MaxConcurrencyPath", "ResultSelector", "ResultPath",
                                    "Retry", "Catch", "ItemReader", "ResultWriter", "ItemBatcher",
                                    "ToleratedFailureCount", "ToleratedFailurePercentage", "Label"},
}
_RETRY_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy",
                 "Comment"}
_CATCH_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment"}
_TOP_FIELDS = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}


@dataclass(frozen=True)
class Diagnostic:
    """One problem: a JSON-pointer-like location, a code (as the AWS API uses) and a message."""

    location: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def validate_asl(definition: Any, for_local: bool = False) -> list[str]:
    """Return a list of human-readable problems with ``definition`` (empty when valid)."""
    return [str(d) for d in asl_diagnostics(definition, for_local=for_local)]


def asl_diagnostics(definition: Any, for_local: bool = False) -> list[Diagnostic]:
    """Structured problems (location, code, message) for ``definition``; see module docstring."""
    out: list[Diagnostic] = []
    if not isinstance(definition, dict):
        return [Diagnostic("/", "SCHEMA_VALIDATION_FAILED", "the definition must be a JSON object")]
    for key in definition:
        if key not in _TOP_FIELDS:
            out.append(Diagnostic(f"/{key}", "SCHEMA_VALIDATION_FAILED", f"field {key!r} is not supported at the top level"))
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        code = "UNSUPPORTED_LOCALLY" if for_local else None
        if code:
            out.append(Diagnostic("/QueryLanguage", code, "JSONata definitions are not supported by the local interpreter"))
    _machine(definition, "", out, for_local)
    return out


def _machine(machine: dict, loc: str, out: list[Diagnostic], for_local: bool) -> None:
    """One state machine (the top level, a Parallel branch or a Map processor): its states, then the graph."""
    def bad(where: str, msg: str, code: str = "SCHEMA_VALIDATION_FAILED") -> None:
        out.append(Diagnostic(where, code, msg))

    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, dict) or not states:
        bad(f"{loc}/States", "'States' must be a non-empty object")
        return
    if not isinstance(start, str):
        bad(f"{loc}/StartAt", "'StartAt' must name a state")
    elif start not in states:
        bad(f"{loc}/StartAt", f"StartAt {start!r} is not a state", "MISSING_TRANSITION_TARGET")

    edges: dict[str, list[str]] = {}
    terminal = False
    for name, state in states.items():
        where = f"{loc}/States/{name}"
        if len(name) > 80:
            bad(where, "state names are at most 80 characters")
        if not isinstance(state, dict):
            bad(where, "a state must be a JSON object")
            continue
        stype = state.get("Type")
        if stype not in ALLOWED_FIELDS:
            bad(f"{where}/Type", f"unknown state Type {stype!r}")
            continue
        targets, ends = _state(state, stype, where, out, for_local, bad)
        terminal |= ends
        for t in targets:
            if not isinstance(t, str) or t not in states:
                bad(where, f"transition target {t!r} is not a state in this scope", "MISSING_TRANSITION_TARGET")
        edges[name] = [t for t in targets if isinstance(t, str)]
    _graph(states, start, edges, terminal, loc, bad)


def _state(state: dict, stype: str, where: str, out: list[Diagnostic], for_local: bool,
           bad: Any) -> tuple[list[str], bool]:
    """Check one state's fields; return its transition targets and whether it can end the machine."""
    for key in state:
        if key not in ALLOWED_FIELDS[stype]:
            bad(f"{where}/{key}", f"field {key!r} is not allowed in a {stype} state")
    targets: list[str] = []
    terminal = False
    if stype in ("Task", "Pass", "Wait", "Parallel", "Map"):
        has_next, has_end = "Next" in state, state.get("End") is True
        if has_next == has_end:
            bad(where, "exactly one of 'Next' or 'End: true' is required")
        if has_next:
            targets.append(state["Next"])
        terminal = has_end
    elif stype in ("Succeed", "Fail"):
        terminal = True
    if stype == "Choice":
        targets += _choice_targets(state, where, bad)
    if stype == "Task":
        res = state.get("Resource")
        if not isinstance(res, str) or not res.startswith("arn:"):
            bad(f"{where}/Resource", "a Task needs a 'Resource' ARN string")
        elif for_local and res.endswith(".waitForTaskToken"):
            bad(f"{where}/Resource", "callback tasks (.waitForTaskToken) are not supported locally",
                "UNSUPPORTED_LOCALLY")
    if stype == "Wait":
        given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in state]
        if len(given) != 1:
            bad(where, "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
    if stype == "Fail":
        _fail(state, where, bad)
    _paths(state, where, bad)
    targets += _retriers_and_catchers(state, where, bad)
    if stype == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            bad(f"{where}/Branches", "a Parallel state needs a non-empty 'Branches' list")
        else:
            for i, branch in enumerate(branches):
                _machine(branch if isinstance(branch, dict) else {}, f"{where}/Branches/{i}", out, for_local)
    if stype == "Map":
        _map(state, where, out, for_local, bad)
    return targets, terminal


def _choice_targets(state: dict, where: str, bad: Any) -> list[str]:
    choices = state.get("Choices")
    if not isinstance(choices, list) or not choices:
        bad(f"{where}/Choices", "a Choice state needs a non-empty 'Choices' list")
        choices = []
    targets = []
    for i, rule in enumerate(choices):
        if not isinstance(rule, dict) or "Next" not in rule:
            bad(f"{where}/Choices/{i}", "each top-level Choice rule needs 'Next'")
            continue
        targets.append(rule["Next"])
        _rule(rule, f"{where}/Choices/{i}", bad, top=True)
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def _fail(state: dict, where: str, bad: Any) -> None:
    for f in ("Error", "Cause"):
        if f in state and f"{f}Path" in state:
            bad(where, f"'{f}' and '{f}Path' are mutually exclusive")
        p = state.get(f"{f}Path")
        if p is not None and not (intrinsics.is_intrinsic(p) or jsonpath.is_reference_path(p)):
            bad(f"{where}/{f}Path", f"{p!r} is not a valid reference path or intrinsic function")


def _retriers_and_catchers(state: dict, where: str, bad: Any) -> list[str]:
    """Check Retry and Catch; return the Catch targets."""
    for i, retrier in enumerate(state.get("Retry", []) or []):
        _retry_or_catch(retrier, f"{where}/Retry/{i}", _RETRY_FIELDS, bad)
    targets = []
    for i, catcher in enumerate(state.get("Catch", []) or []):
        _retry_or_catch(catcher, f"{where}/Catch/{i}", _CATCH_FIELDS, bad)
        if isinstance(catcher, dict):
            if "Next" not in catcher:
                bad(f"{where}/Catch/{i}", "a Catch needs 'Next'")
            else:
                targets.append(catcher["Next"])
            rp = catcher.get("ResultPath", "$")
            if rp is not None and not jsonpath.is_reference_path(rp):
                bad(f"{where}/Catch/{i}/ResultPath", f"{rp!r} is not a valid reference path")
    return targets


def _map(state: dict, where: str, out: list[Diagnostic], for_local: bool, bad: Any) -> None:
    proc = state.get("ItemProcessor", state.get("Iterator"))
    if not isinstance(proc, dict):
        bad(where, "a Map state needs 'ItemProcessor' (or legacy 'Iterator')")
    else:
        if for_local and proc.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            bad(f"{where}/ItemProcessor", "distributed Map is not supported locally", "UNSUPPORTED_LOCALLY")
        _machine({k: v for k, v in proc.items() if k != "ProcessorConfig"},
                 f"{where}/ItemProcessor", out, for_local)
    if "ItemsPath" in state and not jsonpath.is_reference_path(state["ItemsPath"]):
        bad(f"{where}/ItemsPath", f"{state['ItemsPath']!r} is not a valid reference path")


def _graph(states: dict, start: Any, edges: dict[str, list[str]], terminal: bool, loc: str, bad: Any) -> None:
    """At least one terminal state, and every state reachable from StartAt."""
    if not terminal:
        bad(loc or "/", "no terminal state (End: true, Succeed or Fail): the machine can never finish",
            "NO_TERMINAL_STATE")
    if isinstance(start, str) and start in states:
        seen, todo = set(), [start]
        while todo:
            s = todo.pop()
            if s in seen or s not in states:
                continue
            seen.add(s)
            todo.extend(edges.get(s, []))
        for name in states:
            if name not in seen:
                bad(f"{loc}/States/{name}", f"state {name!r} is not reachable from StartAt", "UNREACHABLE_STATE")


def _paths(state: dict, where: str, bad: Any) -> None:
    for f in ("InputPath", "OutputPath"):
        if state.get(f) is not None and not jsonpath.is_valid(state[f]):
            bad(f"{where}/{f}", f"{state[f]!r} is not a valid JSONPath")
    if state.get("ResultPath") is not None and not jsonpath.is_reference_path(state["ResultPath"]):
        bad(f"{where}/ResultPath", f"{state['ResultPath']!r} is not a valid reference path")
    for f in ("Parameters", "ResultSelector", "ItemSelector"):
        if f in state:
            _template(state[f], f"{where}/{f}", bad)
    for f in ("SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath"):
        if f in state and not jsonpath.is_reference_path(state[f]):
            bad(f"{where}/{f}", f"{state[f]!r} is not a valid reference path")


def _template(value: Any, where: str, bad: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith(".$"):
                if not isinstance(v, str):
                    bad(f"{where}/{k}", "a '.$' field must hold a JSONPath or intrinsic function string")
                elif intrinsics.is_intrinsic(v):
                    try:
                        intrinsics.parse(v)
                    except intrinsics.IntrinsicSyntaxError as exc:
                        bad(f"{where}/{k}", f"invalid intrinsic function: {exc}")
                elif not jsonpath.is_valid(v):
                    bad(f"{where}/{k}", f"{v!r} is not a valid JSONPath")
            else:
                _template(v, f"{where}/{k}", bad)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _template(v, f"{where}/{i}", bad)


def _retry_or_catch(entry: Any, where: str, allowed: set[str], bad: Any) -> None:
    if not isinstance(entry, dict):
        bad(where, "must be a JSON object")
        return
    for k in entry:
        if k not in allowed:
            bad(f"{where}/{k}", f"field {k!r} is not allowed here")
    errors = entry.get("ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        bad(f"{where}/ErrorEquals", "'ErrorEquals' must be a non-empty list of error names")
    elif "States.ALL" in errors and len(errors) > 1:
        bad(f"{where}/ErrorEquals", "'States.ALL' must appear alone")
    for f, lo in (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1)):
        if f in entry and (not isinstance(entry[f], int) or isinstance(entry[f], bool) or entry[f] < lo):
            bad(f"{where}/{f}", f"'{f}' must be an integer >= {lo}")
    if "BackoffRate" in entry and (not isinstance(entry["BackoffRate"], (int, float)) or entry["BackoffRate"] < 1):
        bad(f"{where}/BackoffRate", "'BackoffRate' must be a number >= 1.0")


def _rule(rule: Any, where: str, bad: Any, top: bool = False) -> None:
    if not isinstance(rule, dict):
        bad(where, "a Choice rule must be a JSON object")
        return
    if not top and "Next" in rule:
        bad(f"{where}/Next", "'Next' is only allowed on top-level Choice rules")
    for combinator in ("And", "Or"):
        if combinator in rule:
            subs = rule[combinator]
            if not isinstance(subs, list) or not subs:
                bad(f"{where}/{combinator}", f"'{combinator}' needs a non-empty list of rules")
                return
            for i, sub in enumerate(subs):
                _rule(sub, f"{where}/{combinator}/{i}", bad)
            return
    if "Not" in rule:
        _rule(rule["Not"], f"{where}/Not", bad)
        return
    var = rule.get("Variable")
    if not isinstance(var, str) or not jsonpath.is_reference_path(var):
        bad(f"{where}/Variable", f"'Variable' must be a reference path, got {var!r}")
    ops = [k for k in rule if k in COMPARISON_OPERATORS]
    unknown = [k for k in rule if k not in COMPARISON_OPERATORS and k not in ("Variable", "Next", "Comment")]
    for k in unknown:
        bad(f"{where}/{k}", f"unknown Choice rule field {k!r}")
    if len(ops) != 1:
        bad(where, f"a Choice rule needs exactly one comparison operator, found {ops or 'none'}")
        return
    op = ops[0]
    if op.endswith("Path") and op != "IsPresent" and (not isinstance(rule[op], str) or not jsonpath.is_reference_path(rule[op])):
        bad(f"{where}/{op}", f"{rule[op]!r} is not a valid reference path")
    if op.startswith("Is") and not isinstance(rule[op], bool):
        bad(f"{where}/{op}", f"'{op}' takes true or false")
