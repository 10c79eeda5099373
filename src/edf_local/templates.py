"""Terraform ``templatefile`` rendering for the ASL templates, so local runs use the deployed text.

Implements the part of Terraform's template language the pipelines use: ``${name}`` interpolation of
a variable, ``$${`` as a literal ``${`` and ``%%{`` as a literal ``%{``. Template directives
(``%{ if }``/``%{ for }``) and expressions other than a bare variable name are rejected with a clear
message rather than mis-rendered. Like Terraform, a missing variable is an error naming it, and
only strings, numbers and booleans can be interpolated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class TemplateError(ValueError):
    """The template cannot be rendered (missing variable, unsupported syntax, invalid JSON)."""


def template_variables(template_text: str) -> set[str]:
    """The variable names a template interpolates (used to check Terraform supplies each one)."""
    names = set()
    for m in _TOKEN.finditer(template_text):
        if m.group(1) is not None:
            names.add(m.group(1).strip())
    return names


def render_template(template_text: str, variables: dict[str, Any]) -> str:
    """Interpolate ``variables`` into ``template_text`` with Terraform templatefile rules."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            line = template_text.count("\n", 0, m.start()) + 1
            raise TemplateError(f"line {line}: template directives (%{{ ... }}) are not supported")
        expr = m.group(1).strip()
        if not _IDENT.fullmatch(expr):
            line = template_text.count("\n", 0, m.start()) + 1
            raise TemplateError(f"line {line}: only ${{variable}} interpolation is supported, got ${{{expr}}}")
        if expr not in variables:
            missing.append(expr)
            return token
        value = variables[expr]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise TemplateError(f"variable {expr!r}: cannot include a {type(value).__name__} in a string template")

    text = _TOKEN.sub(sub, template_text)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise TemplateError(f"vars map does not contain key(s): {names} (the template references them)")
    return text


def render_asl(template_text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Render an ASL template and parse it; raise TemplateError if a variable is missing or JSON is invalid."""
    text = render_template(template_text, variables)
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"rendered template is not valid JSON: {exc}") from exc
    if not isinstance(definition, dict):
        raise TemplateError("rendered template is not a JSON object")
    return definition


def render_asl_file(path: str | Path, variables: dict[str, Any]) -> dict[str, Any]:
    """Render the ASL template file at ``path`` (errors name the file)."""
    try:
        return render_asl(Path(path).read_text(), variables)
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
