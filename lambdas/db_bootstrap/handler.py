"""db_bootstrap: create the forecast schema and the least-privilege PostgreSQL roles (RDS only).

Thin handler: the logic is `edf.storage.pg_bootstrap.handle` (tested against a real server).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.storage.pg_bootstrap import BootstrapEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-db-bootstrap")
    return handle(BootstrapEvent.parse(event), context)
