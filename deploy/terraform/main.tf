# The iamwarden Lambda function and what it runs with: the resources of
# deploy/cloudformation/iamwarden.yaml. Apply it in us-east-1: CloudTrail delivers IAM events to
# EventBridge only there.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  region_message = "iamwarden must be deployed in us-east-1, the only region where CloudTrail delivers IAM events to EventBridge."
  # The function's timeout; the account queue's visibility timeout is six times it.
  function_timeout = 300
  # The 14 IAM calls that change what iamwarden judges.
  iam_event_names = [
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "ResyncMFADevice",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "TagUser",
    "UntagUser",
    "DeleteUser",
  ]
}

resource "aws_lambda_function" "iamwarden" {
  function_name    = var.name
  description      = "iamwarden audits and fixes IAM users"
  architectures    = ["arm64"]
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  filename         = var.lambda_zip
  source_code_hash = var.lambda_zip != null ? filebase64sha256(var.lambda_zip) : null
  s3_bucket        = var.lambda_zip == null ? var.code_bucket : null
  s3_key           = var.lambda_zip == null ? var.code_key : null
  role             = aws_iam_role.function.arn
  memory_size      = 256
  timeout          = local.function_timeout

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  environment {
    variables = {
      IAMWARDEN_MODE                = var.mode
      IAMWARDEN_CONFIG              = var.config
      IAMWARDEN_CONFIG_PARAMETER    = var.config_parameter
      IAMWARDEN_EXEMPTION_PARAMETER = var.exemption_parameter
      IAMWARDEN_SNS_TOPIC_ARN       = aws_sns_topic.notifications.arn
      IAMWARDEN_JOURNAL_TABLE       = aws_dynamodb_table.journal.name
      IAMWARDEN_MAX_ACTIONS         = tostring(var.max_actions)
      IAMWARDEN_SCHEDULE_GROUP      = aws_scheduler_schedule_group.deadlines.name
      IAMWARDEN_SCHEDULER_ROLE_ARN  = aws_iam_role.scheduler.arn
      IAMWARDEN_SCHEDULE_DLQ_ARN    = aws_sqs_queue.dead_letters.arn
      IAMWARDEN_GRACE               = var.grace
      IAMWARDEN_MFA_REMOVED_GRACE   = var.mfa_removed_grace
      IAMWARDEN_UNUSED_DAYS         = tostring(var.unused_days)
      IAMWARDEN_HISTORY_DAYS        = tostring(var.history_retention_days)
      # Organization mode; empty (not set) in a single account.
      IAMWARDEN_ORGANIZATION      = var.organization_mode ? "true" : ""
      IAMWARDEN_ACCOUNT_QUEUE_URL = var.organization_mode ? aws_sqs_queue.accounts[0].url : ""
      IAMWARDEN_MEMBER_ROLE_NAME  = var.organization_mode ? var.member_role_name : ""
      IAMWARDEN_ENFORCE_ROLE_NAME = var.organization_mode ? var.enforce_role_name : ""
      IAMWARDEN_EXTERNAL_ID       = var.organization_mode ? var.external_id : ""
      IAMWARDEN_SECURITY_HUB      = var.enable_security_hub ? "true" : ""
    }
  }

  lifecycle {
    precondition {
      condition     = data.aws_region.current.region == "us-east-1"
      error_message = local.region_message
    }
    precondition {
      condition     = var.lambda_zip != null || var.code_bucket != null
      error_message = "Set lambda_zip, or code_bucket and code_key."
    }
    precondition {
      condition     = !var.organization_mode || (var.organization_id != "" && var.external_id != "")
      error_message = "organization_mode needs organization_id and external_id."
    }
  }

  # The role policy must be in place before the function is created: Lambda checks the role
  # may send to the dead-letter queue.
  depends_on = [aws_iam_role_policy.function]
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

# CloudTrail's IAM events (us-east-1 only).
resource "aws_cloudwatch_event_rule" "iam_events" {
  name_prefix = "${var.name}-iam-events-"
  description = "CloudTrail IAM user events for iamwarden"
  event_pattern = jsonencode({
    source        = ["aws.iam"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["iam.amazonaws.com"]
      eventName   = local.iam_event_names
    }
  })

  lifecycle {
    precondition {
      condition     = data.aws_region.current.region == "us-east-1"
      error_message = local.region_message
    }
  }
}

resource "aws_cloudwatch_event_target" "iam_events" {
  rule      = aws_cloudwatch_event_rule.iam_events.name
  target_id = "iamwarden"
  arn       = aws_lambda_function.iamwarden.arn

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_cloudwatch_event_rule" "sweep" {
  name_prefix         = "${var.name}-sweep-"
  description         = "Periodic iamwarden sweep over every IAM user"
  schedule_expression = var.sweep_schedule
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule      = aws_cloudwatch_event_rule.sweep.name
  target_id = "iamwarden"
  arn       = aws_lambda_function.iamwarden.arn

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "iam_events" {
  function_name = aws_lambda_function.iamwarden.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.iam_events.arn
}

resource "aws_lambda_permission" "sweep" {
  function_name = aws_lambda_function.iamwarden.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}

# One-shot deadline schedules, created by the function at run time.
resource "aws_scheduler_schedule_group" "deadlines" {
  name = var.name
}

# Events the rules, the deadline schedules and Lambda's asynchronous invocations could not
# deliver.
resource "aws_sqs_queue" "dead_letters" {
  name_prefix               = "${var.name}-dead-letters-"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeRuleDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dead_letters.arn
      Condition = { ArnEquals = { "aws:SourceArn" = concat([aws_cloudwatch_event_rule.iam_events.arn, aws_cloudwatch_event_rule.sweep.arn], aws_cloudwatch_event_rule.organization[*].arn) } }
    }]
  })
}

resource "aws_sns_topic" "notifications" {
  name_prefix  = "${var.name}-"
  display_name = "iamwarden"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.notification_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "email"
  endpoint  = var.notification_email
}

# The table `iamwarden journal init` creates (internal/journal/dynamo.TableInput), with TTL and
# point-in-time recovery on. It is the audit trail undo reads: prevent_destroy and deletion
# protection keep it when the module is removed (take it out of the state first).
resource "aws_dynamodb_table" "journal" {
  name                        = "${var.name}-journal"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "ActionID"
  deletion_protection_enabled = true

  attribute {
    name = "ActionID"
    type = "S"
  }
  attribute {
    name = "AccountID"
    type = "S"
  }
  attribute {
    name = "RunID"
    type = "S"
  }
  attribute {
    name = "OpenAccountID"
    type = "S"
  }
  attribute {
    name = "CreatedKey"
    type = "S"
  }

  global_secondary_index {
    name            = "by-account"
    hash_key        = "AccountID"
    range_key       = "CreatedKey"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "by-run"
    hash_key        = "RunID"
    range_key       = "CreatedKey"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "open"
    hash_key        = "OpenAccountID"
    range_key       = "CreatedKey"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  ttl {
    attribute_name = "ExpiresEpoch"
    enabled        = true
  }

  tags = {
    app = "iamwarden"
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  alarm_name          = "${var.name}-function-errors"
  alarm_description   = "The iamwarden function failed"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.iamwarden.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.notifications.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Events for iamwarden wait in its dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.notifications.arn]
}

resource "aws_lambda_permission" "config" {
  count          = var.enable_config_rule ? 1 : 0
  function_name  = aws_lambda_function.iamwarden.function_name
  action         = "lambda:InvokeFunction"
  principal      = "config.amazonaws.com"
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_config_config_rule" "users" {
  count       = var.enable_config_rule ? 1 : 0
  name        = "${var.name}-users"
  description = "IAM users judged by iamwarden's rules"

  scope {
    compliance_resource_types = ["AWS::IAM::User"]
  }

  source {
    owner             = "CUSTOM_LAMBDA"
    source_identifier = aws_lambda_function.iamwarden.arn
    source_detail {
      event_source                = "aws.config"
      message_type                = "ScheduledNotification"
      maximum_execution_frequency = var.maximum_execution_frequency
    }
  }

  depends_on = [aws_lambda_permission.config]
}

# Organization mode: the member accounts' IAM events arrive on this bus (the member module
# forwards them from each account's default bus in us-east-1).
resource "aws_cloudwatch_event_bus" "organization" {
  count = var.organization_mode ? 1 : 0
  name  = var.event_bus_name
}

resource "aws_cloudwatch_event_bus_policy" "organization" {
  count          = var.organization_mode ? 1 : 0
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OrganizationPutEvents"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = aws_cloudwatch_event_bus.organization[0].arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

# The same IAM events as iam_events, from the member accounts; the function acts on each in the
# event's own account through the member role.
resource "aws_cloudwatch_event_rule" "organization" {
  count          = var.organization_mode ? 1 : 0
  name_prefix    = "${var.name}-organization-"
  description    = "Member accounts' CloudTrail IAM user events for the iamwarden hub"
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  event_pattern = jsonencode({
    source        = ["aws.iam"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["iam.amazonaws.com"]
      eventName   = local.iam_event_names
    }
  })

  lifecycle {
    precondition {
      condition     = data.aws_region.current.region == "us-east-1"
      error_message = local.region_message
    }
  }
}

resource "aws_cloudwatch_event_target" "organization" {
  count          = var.organization_mode ? 1 : 0
  rule           = aws_cloudwatch_event_rule.organization[0].name
  event_bus_name = aws_cloudwatch_event_bus.organization[0].name
  target_id      = "iamwarden"
  arn            = aws_lambda_function.iamwarden.arn

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "organization" {
  count         = var.organization_mode ? 1 : 0
  function_name = aws_lambda_function.iamwarden.function_name
  action        = "lambda:InvokeFunction"
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.organization[0].arn
}

# One message per account of a sweep, sent by the hub and consumed by the function through
# aws_lambda_event_source_mapping.accounts. The visibility timeout is six times the function's
# timeout, as AWS recommends for a queue feeding a function; a message received 3 times goes to
# the account dead-letter queue.
resource "aws_sqs_queue" "accounts" {
  count                      = var.organization_mode ? 1 : 0
  name_prefix                = "${var.name}-accounts-"
  visibility_timeout_seconds = local.function_timeout * 6
  message_retention_seconds  = 86400
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.account_dead_letters[0].arn
    maxReceiveCount     = 3
  })
}

resource "aws_sqs_queue" "account_dead_letters" {
  count                     = var.organization_mode ? 1 : 0
  name_prefix               = "${var.name}-account-dead-letters-"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_event_source_mapping" "accounts" {
  count                   = var.organization_mode ? 1 : 0
  event_source_arn        = aws_sqs_queue.accounts[0].arn
  function_name           = aws_lambda_function.iamwarden.arn
  batch_size              = 5
  function_response_types = ["ReportBatchItemFailures"]

  # IAM and STS throttle per account and per caller: GetAccountAuthorizationDetails, the
  # credential report and AssumeRole from many accounts at once share the hub role's STS quota
  # and each account's IAM quota. A few accounts at a time keep a sweep under them; raise it for
  # large organizations only while the function's Errors stay at zero.
  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}

resource "aws_cloudwatch_metric_alarm" "account_dead_letters" {
  count               = var.organization_mode ? 1 : 0
  alarm_name          = "${var.name}-account-dead-letters"
  alarm_description   = "Accounts the iamwarden hub could not sweep wait in the account dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.account_dead_letters[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.notifications.arn]
}
