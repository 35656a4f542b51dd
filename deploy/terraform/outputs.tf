output "function_arn" {
  description = "The iamwarden function"
  value       = aws_lambda_function.iamwarden.arn
}

output "topic_arn" {
  description = "Notification topic (subscribe to it)"
  value       = aws_sns_topic.notifications.arn
}

output "journal_table_name" {
  description = "DynamoDB journal table, for iamwarden undo --journal-table"
  value       = aws_dynamodb_table.journal.name
}

output "dead_letter_queue_url" {
  description = "Events that could not be delivered to the function"
  value       = aws_sqs_queue.dead_letters.url
}

output "function_role_name" {
  description = "The function's role, which the member roles trust (the member module's hub_function_role_name)"
  value       = aws_iam_role.function.name
}

output "event_bus_arn" {
  description = "Event bus the member accounts forward their IAM events to (organization mode)"
  value       = one(aws_cloudwatch_event_bus.organization[*].arn)
}

output "account_queue_url" {
  description = "Queue of per-account work of the organization's sweeps (organization mode)"
  value       = one(aws_sqs_queue.accounts[*].url)
}
