"""The one shape every Lambda delegate has: a typed event model and one "bad event" error.

Each ``lambdas/<function>/handler.py`` configures logging, then calls
``handle(<Model>.parse(event), context)`` in the package (the API Lambdas pass the API Gateway
proxy event, which their Powertools resolver parses, through :func:`api_gateway_event`). An event
the Lambda cannot act on raises :class:`InvalidEvent` everywhere: Lambda reports the exception's
class name as ``errorType``, so Step Functions (and any direct caller) sees the error
``InvalidEvent`` with a message naming the field — a wiring bug to fix, never a transient error
worth a retry.

Workflow events reject unknown keys: a renamed field in ``pipelines/*.asl.json`` fails loudly at
the first run instead of being ignored (``tests/unit/test_lambda_events.py`` checks the ASL
payloads against the models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class InvalidEvent(ValueError):  # no "Error" suffix: this is the error name Step Functions sees
    """The Lambda's event lacks a field, has a wrong type or an unknown key; the message names it."""


#: A field the event must carry with a non-empty value.
Required = Annotated[str, Field(min_length=1)]


class LambdaEvent(BaseModel):
    """Base of the workflow Lambdas' events; the two logging keys are accepted by every one.

    ``execution_id`` is what the ASL passes (``$$.Execution.Id``) and ``correlation_id`` what a
    manual or scheduled caller may pass; :func:`edf.logging.correlation_id_from_event` reads them
    from the raw event before parsing, so even a rejected event is logged under its run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: str | None = None
    correlation_id: str | None = None

    @classmethod
    def parse(cls, event: Any) -> Self:
        """The typed event, or :class:`InvalidEvent` naming every offending field."""
        if event is None:
            event = {}
        if not isinstance(event, Mapping):
            raise InvalidEvent(f"{cls.__name__}: the event must be a JSON object, got {type(event).__name__}")
        try:
            return cls.model_validate(dict(event))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {_reason(err)}"
                                 for err in exc.errors())
            got = ", ".join(sorted(map(str, event))) or "none"
            raise InvalidEvent(f"{cls.__name__}: {problems} (got keys: {got})") from None


def _reason(err: Mapping[str, Any]) -> str:
    if err["type"] == "missing":
        return "missing"
    if err["type"] == "extra_forbidden":
        return "unknown key"
    return str(err["msg"]).removeprefix("Value error, ")


def api_gateway_event(event: Any) -> dict[str, Any]:
    """An API Gateway REST proxy event as the Powertools resolver expects it, else :class:`InvalidEvent`.

    Only the envelope is checked (a direct invoke with another payload would otherwise fail deep
    in the resolver with ``KeyError: 'httpMethod'``); the resolver parses the rest.
    """
    if not isinstance(event, Mapping) or not event.get("httpMethod") or not event.get("path"):
        keys = ", ".join(sorted(map(str, event))) if isinstance(event, Mapping) else type(event).__name__
        raise InvalidEvent(f"expected an API Gateway REST proxy event with httpMethod and path (got {keys or 'none'})")
    return dict(event)
