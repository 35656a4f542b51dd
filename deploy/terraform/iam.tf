# The function's role policy is `iamwarden policy render iamwarden-lambda-report` (mode report)
# or `iamwarden-lambda-enforce` (mode enforce, the last statement) with this module's resources,
# with --organization in organization mode and --security-hub with enable_security_hub;
# deploy/deploy_test.go checks it against the renderer and the CloudFormation template. The
# member roles trust this role by name: output function_role_name is the member module's
# hub_function_role_name.

locals {
  enforce = var.mode == "enforce"
  # Without an exemption parameter, the renderer's default one.
  exemption_parameter_arn = var.exemption_parameter != "" ? "arn:aws:ssm:*:*:parameter${var.exemption_parameter}" : "arn:aws:ssm:*:*:parameter/iam-unused-user-cleanup/excluded-users"
  journal_table_arn       = "arn:aws:dynamodb:*:*:table/${aws_dynamodb_table.journal.name}"
  function_arn            = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:function:${var.name}"
}

resource "aws_iam_role" "function" {
  name_prefix = "${var.name}-"
  description = "Role of the iamwarden Lambda function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "function" {
  name = "iamwarden"
  role = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid    = "IamwardenScan"
          Effect = "Allow"
          Action = [
            "sts:GetCallerIdentity",
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:GetAccountAuthorizationDetails",
            "iam:ListVirtualMFADevices",
            "iam:GetAccountPasswordPolicy",
            "iam:ListAccountAliases",
            "iam:GetAccountSummary",
            "iam:GetLoginProfile",
            "iam:ListAccessKeys",
            "iam:GetAccessKeyLastUsed",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "organizations:DescribeOrganization",
            "organizations:ListParents",
            "organizations:ListPoliciesForTarget",
            "organizations:DescribePolicy",
          ]
          Resource = "*"
        },
        {
          Sid      = "IamwardenExemptionList"
          Effect   = "Allow"
          Action   = "ssm:GetParameter"
          Resource = local.exemption_parameter_arn
        },
      ],
      var.config_parameter != "" ? [{
        Sid      = "IamwardenConfigParameter"
        Effect   = "Allow"
        Action   = "ssm:GetParameter"
        Resource = "arn:aws:ssm:*:*:parameter${var.config_parameter}"
      }] : [],
      [
        {
          Sid      = "IamwardenReadUsers"
          Effect   = "Allow"
          Action   = ["iam:GetUser", "iam:ListMFADevices"]
          Resource = "arn:aws:iam::*:user/*"
        },
        {
          Sid      = "IamwardenNotify"
          Effect   = "Allow"
          Action   = "sns:Publish"
          Resource = aws_sns_topic.notifications.arn
        },
        {
          Sid    = "IamwardenJournal"
          Effect = "Allow"
          Action = [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:DescribeTable",
          ]
          Resource = [local.journal_table_arn, "${local.journal_table_arn}/index/*"]
        },
        {
          Sid       = "IamwardenJournalRelease"
          Effect    = "Allow"
          Action    = "dynamodb:DeleteItem"
          Resource  = local.journal_table_arn
          Condition = { "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["LEASE#*", "DEDUPE#*", "SECURITYHUB#*", "RUN#*#*"] } }
        },
        {
          Sid    = "IamwardenDeadlineSchedules"
          Effect = "Allow"
          Action = [
            "scheduler:CreateSchedule",
            "scheduler:GetSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
          ]
          Resource = "arn:aws:scheduler:*:*:schedule/${aws_scheduler_schedule_group.deadlines.name}/*"
        },
        {
          Sid       = "IamwardenPassSchedulerRole"
          Effect    = "Allow"
          Action    = "iam:PassRole"
          Resource  = aws_iam_role.scheduler.arn
          Condition = { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
        },
        {
          Sid      = "IamwardenConfigEvaluations"
          Effect   = "Allow"
          Action   = "config:PutEvaluations"
          Resource = "*"
        },
        {
          Sid      = "IamwardenDeadLetter"
          Effect   = "Allow"
          Action   = "sqs:SendMessage"
          Resource = aws_sqs_queue.dead_letters.arn
        },
        {
          Sid      = "IamwardenLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:${aws_cloudwatch_log_group.function.name}:*"
        },
      ],
      # Organization mode: one conditional per statement, so that each has the type of a
      # one-element list.
      var.organization_mode ? [{
        Sid    = "IamwardenOrganizationAccounts"
        Effect = "Allow"
        Action = [
          "organizations:ListAccounts",
          "organizations:ListAccountsForParent",
          "organizations:ListOrganizationalUnitsForParent",
          "organizations:DescribeAccount",
        ]
        Resource = "*"
      }] : [],
      # The member role of the mode only: a report-mode hub cannot enter the role that changes
      # users.
      var.organization_mode ? [{
        Sid      = "IamwardenAssumeMemberRole"
        Effect   = "Allow"
        Action   = "sts:AssumeRole"
        Resource = "arn:aws:iam::*:role/${local.enforce ? var.enforce_role_name : var.member_role_name}"
      }] : [],
      var.organization_mode ? [{
        Sid    = "IamwardenAccountQueue"
        Effect = "Allow"
        Action = [
          "sqs:SendMessage",
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
          "sqs:ChangeMessageVisibility",
        ]
        Resource = aws_sqs_queue.accounts[0].arn
      }] : [],
      var.enable_security_hub ? [{
        Sid      = "IamwardenSecurityHub"
        Effect   = "Allow"
        Action   = "securityhub:BatchImportFindings"
        Resource = "*"
      }] : [],
      local.enforce ? [{
        Sid      = "IamwardenEnforce"
        Effect   = "Allow"
        Action   = ["iam:DeleteLoginProfile", "iam:UpdateAccessKey", "iam:CreateLoginProfile"]
        Resource = "arn:aws:iam::*:user/*"
      }] : [],
    )
  })
}

# The role EventBridge Scheduler assumes to run the deadline schedules.
resource "aws_iam_role" "scheduler" {
  name_prefix = "${var.name}-scheduler-"
  description = "Role EventBridge Scheduler assumes to run iamwarden's deadline schedules"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-iamwarden"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The function's ARN by name: a reference would make a cycle (the function's role
        # passes this role).
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = local.function_arn
      },
      {
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.dead_letters.arn
      },
    ]
  })
}
