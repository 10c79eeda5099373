"""B2C resident API (API Gateway REST, Cognito authorizer) -> edf.serving.b2c.

Thin handler: the Powertools resolver in `edf.serving.b2c.handle` parses the proxy event.
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.serving.b2c import handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-b2c-api")
    return handle(event, context)
