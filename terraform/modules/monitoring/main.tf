# Alarms and the dashboard of the monitoring issue (issue 8 §3). Operational alarms are per
# resource; accuracy alarms use CloudWatch Metrics Insights over the EDF/Accuracy namespace,
# so every grid area and lead bucket the accuracy monitor emits is covered without listing
# them here (grid areas come from data, not from Terraform).

data "aws_region" "current" {}

locals {
  actions = [var.alerts_topic_arn]
  region  = data.aws_region.current.name
  # Metrics Insights only sees the last 3 hours: the alarm fires when a breaching daily
  # value is emitted and then returns to OK; that transition is what pages.
  accuracy_period = 3600
}

resource "aws_cloudwatch_metric_alarm" "sfn_failed" {
  for_each            = var.state_machine_arns
  alarm_name          = "${var.name_prefix}-${each.key}-executions-failed"
  alarm_description   = "Step Functions ${each.key} had a failed execution."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "sfn_timed_out" {
  # An execution timeout is not catchable, so NotifyFailureEDF never runs: this alarm is the page.
  for_each            = var.state_machine_arns
  alarm_name          = "${var.name_prefix}-${each.key}-executions-timed-out"
  alarm_description   = "Step Functions ${each.key} had an execution that exceeded its TimeoutSeconds."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsTimedOut"
  dimensions          = { StateMachineArn = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# "No successful daily run by HH:00 UTC". Hourly sums of ExecutionsSucceeded, missing hours filled
# with 0; an hour counts as breaching when it lies at or before the deadline hour and had no success.
# N = deadline consecutive breaching hours are only possible for the window 00..HH-1 (or 01..HH when
# the partial current hour is included), because any hour after the deadline is never breaching.
# The alarm thus fires once, just after the deadline, and clears an hour later.
resource "aws_cloudwatch_metric_alarm" "daily_run_missing" {
  alarm_name          = "${var.name_prefix}-inference-no-success-by-${format("%02d", var.success_deadline_hour_utc)}00utc"
  alarm_description   = "No successful inference execution today by ${format("%02d", var.success_deadline_hour_utc)}:00 UTC (config edf_inference.alarms.success_deadline_hour_utc)."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = var.success_deadline_hour_utc
  datapoints_to_alarm = var.success_deadline_hour_utc
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id = "succeeded"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsSucceeded"
      dimensions  = { StateMachineArn = var.daily_state_machine_arn }
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id         = "filled"
    expression = "FILL(succeeded, 0)"
  }

  metric_query {
    id          = "missing"
    expression  = "IF(HOUR(filled) <= ${var.success_deadline_hour_utc} AND filled == 0, 1, 0)"
    label       = "hour up to the deadline without a successful run"
    return_data = true
  }

  tags = var.tags
}

# The inference features job puts the age of the newest processed hour at each run. No datapoint
# for a day means nobody vouched for the data (the job did not run): treated as breaching.
resource "aws_cloudwatch_metric_alarm" "processed_data_age" {
  alarm_name          = "${var.name_prefix}-processed-data-older-than-${var.processed_data_max_age_hours}h"
  alarm_description   = "Newest processed_edf_data hour older than ${var.processed_data_max_age_hours} h at the daily run, or no run reported it (config edf_inference.alarms.processed_data_max_age_hours)."
  namespace           = var.inputs_namespace
  metric_name         = "ProcessedDataAgeHours"
  dimensions          = { Environment = var.environment }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.processed_data_max_age_hours
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = var.dead_letter_queue_names
  alarm_name          = "${var.name_prefix}-${each.key}-dead-letters"
  alarm_description   = "Undelivered ${each.key} invocations in ${each.value}: the target was never started."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = var.lambda_function_names
  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "Lambda ${each.value} returned errors (for the loader: forecasts not stored)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each            = var.lambda_function_names
  alarm_name          = "${var.name_prefix}-${each.key}-throttles"
  alarm_description   = "Lambda ${each.value} was throttled."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name_prefix}-api-5xx"
  alarm_description   = "API ${var.api_name} answered with server errors."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.api_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p99" {
  alarm_name          = "${var.name_prefix}-api-latency-p99"
  alarm_description   = "API ${var.api_name} p99 latency above ${var.api_p99_latency_ms} ms."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.api_p99_latency_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The B2B API's tenant registry (edf.serving.tenants): a skipped entry locks a tenant out, a failed
# refresh means the API serves an older copy (or 503 with none). Both are EMF metrics without
# dimensions in the serving namespace; either one above zero pages.
resource "aws_cloudwatch_metric_alarm" "tenant_registry" {
  for_each = {
    rejected_entries = { metric = "TenantRegistryRejectedEntries", what = "skipped malformed or ambiguous tenant registry entries" }
    refresh_failures = { metric = "TenantRegistryRefreshFailures", what = "could not refresh the tenant registry (serving the last good copy, or 503 without one)" }
  }
  alarm_name          = "${var.name_prefix}-tenant-registry-${replace(each.key, "_", "-")}"
  alarm_description   = "The B2B API ${each.value.what}; see the API Lambda logs (edf.serving.tenants)."
  namespace           = var.serving_namespace
  metric_name         = each.value.metric
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "accuracy" {
  # A threshold set to null in the config disables that side of the policy, and its alarm.
  for_each = { for k, v in {
    cv_rmse_high = {
      query       = "SELECT MAX(cv_rmse_pct) FROM SCHEMA(\"${var.accuracy_namespace}\", GridArea, LeadBucket)"
      threshold   = var.max_cv_rmse_pct
      comparison  = "GreaterThanThreshold"
      description = "Forecast CV(RMSE) % above the drift threshold for some grid area and lead bucket."
    }
    coverage_low = {
      query       = "SELECT MIN(coverage) FROM SCHEMA(\"${var.accuracy_namespace}\", GridArea, LeadBucket)"
      threshold   = var.min_coverage
      comparison  = "LessThanThreshold"
      description = "Prediction-interval coverage below the band for some grid area and lead bucket."
    }
    coverage_high = {
      query       = "SELECT MAX(coverage) FROM SCHEMA(\"${var.accuracy_namespace}\", GridArea, LeadBucket)"
      threshold   = var.max_coverage
      comparison  = "GreaterThanThreshold"
      description = "Prediction-interval coverage above the band: intervals too wide to be useful."
    }
  } : k => v if v.threshold != null }
  alarm_name          = "${var.name_prefix}-accuracy-${each.key}"
  alarm_description   = each.value.description
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "q1"
    expression  = each.value.query
    period      = local.accuracy_period
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-overview"
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, lb in var.lead_buckets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = 0
        width  = 8
        height = 6
        properties = {
          title   = "CV(RMSE) % by grid area, lead ${lb}"
          region  = local.region
          view    = "timeSeries"
          stat    = "Average"
          period  = 86400
          metrics = [[{ expression = "SEARCH('{${var.accuracy_namespace},GridArea,LeadBucket} MetricName=\"cv_rmse_pct\" LeadBucket=\"${lb}\"', 'Average', 86400)", id = "e${i}" }]]
          annotations = {
            horizontal = var.max_cv_rmse_pct == null ? [] : [{ label = "threshold", value = var.max_cv_rmse_pct }]
          }
        }
      }],
      [for i, lb in var.lead_buckets : {
        type   = "metric"
        x      = (i % 3) * 8
        y      = 6
        width  = 8
        height = 6
        properties = {
          title   = "Interval coverage by grid area, lead ${lb}"
          region  = local.region
          view    = "timeSeries"
          stat    = "Average"
          period  = 86400
          metrics = [[{ expression = "SEARCH('{${var.accuracy_namespace},GridArea,LeadBucket} MetricName=\"coverage\" LeadBucket=\"${lb}\"', 'Average', 86400)", id = "c${i}" }]]
          annotations = {
            horizontal = [for a in [{ label = "min", value = var.min_coverage }, { label = "max", value = var.max_coverage }] : a if a.value != null]
          }
        }
      }],
      [
        {
          type   = "metric"
          x      = 0
          y      = 12
          width  = 12
          height = 6
          properties = {
            title   = "Workflow executions"
            region  = local.region
            stat    = "Sum"
            period  = 3600
            metrics = flatten([for k, arn in var.state_machine_arns : [["AWS/States", "ExecutionsSucceeded", "StateMachineArn", arn, { label = "${k} succeeded" }], ["AWS/States", "ExecutionsFailed", "StateMachineArn", arn, { label = "${k} failed" }]]])
          }
        },
        {
          type   = "metric"
          x      = 12
          y      = 12
          width  = 12
          height = 6
          properties = {
            title   = "Lambda errors"
            region  = local.region
            stat    = "Sum"
            period  = 300
            metrics = [for k, fn in var.lambda_function_names : ["AWS/Lambda", "Errors", "FunctionName", fn, { label = k }]]
          }
        },
        {
          type   = "metric"
          x      = 0
          y      = 18
          width  = 12
          height = 6
          properties = {
            title  = "API p99 latency and 5XX"
            region = local.region
            period = 300
            metrics = [
              ["AWS/ApiGateway", "Latency", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "p99" }],
              ["AWS/ApiGateway", "5XXError", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "Sum", yAxis = "right" }],
            ]
          }
        },
      ],
      local.weather_widgets,
    )
  })
}
