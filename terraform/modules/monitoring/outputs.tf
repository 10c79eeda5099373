output "alarm_names" {
  description = "Every alarm this module created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.sfn_failed : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.sfn_timed_out : a.alarm_name],
    [aws_cloudwatch_metric_alarm.daily_run_missing.alarm_name, aws_cloudwatch_metric_alarm.processed_data_age.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.dead_letters : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.lambda_throttles : a.alarm_name],
    [aws_cloudwatch_metric_alarm.api_5xx.alarm_name, aws_cloudwatch_metric_alarm.api_latency_p99.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.accuracy : a.alarm_name],
  )
}

output "dashboard_name" {
  description = "Dashboard name."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
