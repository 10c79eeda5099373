output "ecr_repository_url" {
  description = "Push the job image here (CI tags it with the commit SHA)."
  value       = aws_ecr_repository.edf.repository_url
}

output "image_uri" {
  description = "Job image the training workflow runs."
  value       = local.image_uri
}

output "model_package_group_name" {
  description = "Model registry group."
  value       = aws_sagemaker_model_package_group.edf.model_package_group_name
}

output "sagemaker_execution_role_arn" {
  description = "Role of every EDF SageMaker job (input of inference_edf)."
  value       = aws_iam_role.sagemaker.arn
}

output "training_state_machine_arn" {
  description = "EDFTrainingWorkflow ARN (start executions here; input of inference_edf for drift retraining)."
  value       = module.training_workflow.arn
}

output "register_model_function_name" {
  description = "Register Lambda."
  value       = module.register_model.function_name
}

output "alerts_topic_arn" {
  description = "EDF alerts topic (input of inference_edf)."
  value       = aws_sns_topic.alerts.arn
}

output "kms_key_arn" {
  description = "Training stack key."
  value       = module.kms.key_arn
}

output "config_uri" {
  description = "Where CD uploads config/edf_config.yaml and where jobs read it."
  value       = local.config_uri
}

output "features_job_name" {
  description = "AWS Glue job of FeatureEngineeringTrainingEDF."
  value       = module.features_job.job_name
}
