"""AccuracyMonitor (scheduled daily): score yesterday's forecasts, emit EMF, apply the drift policy."""

from edf.monitoring.lambda_handler import handle


def handler(event, context):
    return handle(event, context)
