"""B2B forecast API (API Gateway REST, API key + usage plan) -> edf.serving.b2b."""

from edf.logging import configure_logging, correlation_id_from_event
from edf.serving.b2b import lambda_handler


def handler(event, context):
    configure_logging(correlation_id_from_event(event, context), service="edf-b2b-api")
    return lambda_handler(event, context)
