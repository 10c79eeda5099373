"""LoadForecastsToDB: load a run's forecasts and recommendations from S3 into the forecast store."""

from edf.logging import configure_logging, correlation_id_from_event
from edf.storage.lambda_load import handle


def handler(event, context):
    configure_logging(correlation_id_from_event(event, context), service="edf-load-forecasts")
    return handle(event, context)
