output "audit_role_arn" {
  description = "The role the hub assumes in report mode"
  value       = aws_iam_role.audit.arn
}

output "enforce_role_arn" {
  description = "The role the hub assumes in enforce mode (null without enable_enforce_role)"
  value       = one(aws_iam_role.enforce[*].arn)
}
