"""RegisterModelEDF: register the evaluated bundle as a PendingManualApproval package.

Thin handler: the logic is `edf.registry.events.handle` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.registry.events import RegisterModelEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-register-model")
    return handle(RegisterModelEvent.parse(event), context)
