"""RegisterModelEDF: register the evaluated bundle as a PendingManualApproval package.

Thin handler: the logic is `edf.registry.events.register` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.registry import events


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-register-model")
    return events.register(event or {})
