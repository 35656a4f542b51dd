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
