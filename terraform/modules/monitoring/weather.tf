# Weather-forecast fetcher alarms and dashboard widgets (issue 15; docs/weather.md). The fetcher
# prints EMF metrics in var.weather_namespace with the dimension Environment; its Lambda errors and
# throttles are covered by the per-function alarms in main.tf (it is in lambda_function_names).

locals {
  weather_on   = var.weather_namespace != null
  weather_dims = { Environment = var.weather_environment }
  # the age alarm looks at the newest value over max_age: no value at all in that window (the fetcher
  # stopped running) is breaching too
  weather_age_period = min(86400, max(3600, ceil(var.weather_max_age_hours) * 3600))

  weather_widgets = [for w in [
    {
      type   = "metric"
      x      = 12
      y      = 18
      width  = 12
      height = 6
      properties = {
        title  = "Weather fetch: failed runs, provider requests and errors"
        region = local.region
        period = 3600
        stat   = "Sum"
        metrics = [
          [var.weather_namespace, "FetchFailures", "Environment", var.weather_environment, { label = "failed fetch runs" }],
          [var.weather_namespace, "ProviderRequests", "Environment", var.weather_environment, { label = "requests" }],
          [var.weather_namespace, "ProviderErrors", "Environment", var.weather_environment, { label = "failed requests" }],
          [var.weather_namespace, "CellsFailed", "Environment", var.weather_environment, { label = "cells failed" }],
        ]
      }
    },
    {
      type   = "metric"
      x      = 0
      y      = 24
      width  = 12
      height = 6
      properties = {
        title  = "Weather provider latency (p50 / p90, ms)"
        region = local.region
        period = 3600
        metrics = [
          [var.weather_namespace, "ProviderLatencyMs", "Environment", var.weather_environment, { stat = "p50" }],
          [var.weather_namespace, "ProviderLatencyMs", "Environment", var.weather_environment, { stat = "p90" }],
        ]
        annotations = { horizontal = [{ label = "alarm", value = var.weather_latency_p90_ms }] }
      }
    },
    {
      type   = "metric"
      x      = 12
      y      = 24
      width  = 12
      height = 6
      properties = {
        title       = "Newest weather forecast age (h) and forecast rows by weather source"
        region      = local.region
        period      = 3600
        metrics     = [[var.weather_namespace, "NewestForecastAgeHours", "Environment", var.weather_environment, { stat = "Maximum", label = "newest forecast age (h)" }], [{ expression = "SEARCH('{${var.accuracy_namespace},WeatherSource} MetricName=\"forecast_rows\"', 'Sum', 86400)", id = "ws", yAxis = "right" }]]
        annotations = { horizontal = [{ label = "max age", value = var.weather_max_age_hours }] }
      }
    },
  ] : w if local.weather_on]
}

resource "aws_cloudwatch_metric_alarm" "weather_fetch_failures" {
  count               = local.weather_on ? 1 : 0
  alarm_name          = "${var.name_prefix}-weather-fetch-failures"
  alarm_description   = "A weather fetch run left cells or buildings without a forecast (see the run's log summary)."
  namespace           = var.weather_namespace
  metric_name         = "FetchFailures"
  dimensions          = local.weather_dims
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "weather_provider_error_rate" {
  count               = local.weather_on ? 1 : 0
  alarm_name          = "${var.name_prefix}-weather-provider-error-rate"
  alarm_description   = "More than ${var.weather_error_rate_pct}% of the weather provider's requests failed in an hour (429, 5xx, timeouts, bad answers)."
  threshold           = var.weather_error_rate_pct
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id = "errors"
    metric {
      namespace   = var.weather_namespace
      metric_name = "ProviderErrors"
      dimensions  = local.weather_dims
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = var.weather_namespace
      metric_name = "ProviderRequests"
      dimensions  = local.weather_dims
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "failed requests %"
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "weather_provider_latency" {
  count               = local.weather_on ? 1 : 0
  alarm_name          = "${var.name_prefix}-weather-provider-latency-p90"
  alarm_description   = "Weather provider p90 latency above ${var.weather_latency_p90_ms} ms."
  namespace           = var.weather_namespace
  metric_name         = "ProviderLatencyMs"
  dimensions          = local.weather_dims
  extended_statistic  = "p90"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.weather_latency_p90_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "weather_forecast_age" {
  count               = local.weather_on ? 1 : 0
  alarm_name          = "${var.name_prefix}-weather-forecast-age"
  alarm_description   = "The newest weather forecast is older than ${var.weather_max_age_hours} h, or the fetcher reported nothing for that long: inference will forecast per edf_weather.freshness.on_stale."
  namespace           = var.weather_namespace
  metric_name         = "NewestForecastAgeHours"
  dimensions          = local.weather_dims
  statistic           = "Maximum"
  period              = local.weather_age_period
  evaluation_periods  = 1
  threshold           = var.weather_max_age_hours
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
