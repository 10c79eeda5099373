"""B2C resident API (API Gateway REST, Cognito authorizer) -> edf.serving.b2c."""

from edf.logging import configure_logging, correlation_id_from_event
from edf.serving.b2c import lambda_handler


def handler(event, context):
    configure_logging(correlation_id_from_event(event, context), service="edf-b2c-api")
    return lambda_handler(event, context)
