"""B2B forecast API (API Gateway REST, API key + usage plan) -> edf.serving.b2b.

Thin handler: the Powertools resolver in `edf.serving.b2b.handle` parses the proxy event.
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.serving.b2b import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-b2b-api")
    return handle(event, context)
