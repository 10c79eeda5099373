"""CreateEDFSageMakerModel: the SageMaker Model resource of the approved package.

Thin handler: the logic is `edf.registry.events.handle` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.registry.events import CreateSageMakerModelEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-create-sagemaker-model")
    return handle(CreateSageMakerModelEvent.parse(event), context)
