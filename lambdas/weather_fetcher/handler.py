"""WeatherFetcher (scheduled): fetch the provider's hourly forecast for every grid cell of the topology."""

from edf.weather.lambda_handler import handle


def handler(event, context):
    return handle(event, context)
