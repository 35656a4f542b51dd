# iamwarden in a member account of an organization: the resources of
# deploy/cloudformation/member.yaml. Apply it once per member account, with a provider in
# us-east-1: IAM is global, and CloudTrail delivers IAM events to EventBridge only there.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  region_message = "the iamwarden member module must be applied in us-east-1, the only region where CloudTrail delivers IAM events to EventBridge."
  # The 14 IAM calls that change what iamwarden judges (the hub module's local.iam_event_names).
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
  hub_event_bus_arn = "arn:aws:events:us-east-1:${var.hub_account_id}:event-bus/${var.hub_event_bus_name}"
  # Without an exemption parameter, the renderer's default one.
  exemption_parameter_arn = var.exemption_parameter != "" ? "arn:aws:ssm:*:*:parameter${var.exemption_parameter}" : "arn:aws:ssm:*:*:parameter/iam-unused-user-cleanup/excluded-users"

  # Both roles trust the hub function's role only, on the external ID and the organization.
  hub_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${var.hub_account_id}:role/${var.hub_function_role_name}" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.external_id, "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })

  # `iamwarden policy render iamwarden-member-audit`; the enforce role's policy
  # (iamwarden-member-enforce) appends the user changes. deploy/member_test.go checks both.
  audit_statements = [
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
    {
      Sid      = "IamwardenReadUsers"
      Effect   = "Allow"
      Action   = ["iam:GetUser", "iam:ListMFADevices"]
      Resource = "arn:aws:iam::*:user/*"
    },
    {
      # Findings are imported by their own account.
      Sid      = "IamwardenSecurityHub"
      Effect   = "Allow"
      Action   = "securityhub:BatchImportFindings"
      Resource = "*"
    },
  ]
}

# The role the hub assumes in report mode.
resource "aws_iam_role" "audit" {
  name               = var.audit_role_name
  description        = "Role the iamwarden hub assumes to audit this account's IAM users"
  assume_role_policy = local.hub_trust
}

resource "aws_iam_role_policy" "audit" {
  name = "iamwarden-member-audit"
  role = aws_iam_role.audit.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.audit_statements
  })
}

# The role the hub assumes in enforce mode.
resource "aws_iam_role" "enforce" {
  count              = var.enable_enforce_role ? 1 : 0
  name               = var.enforce_role_name
  description        = "Role the iamwarden hub assumes to fix this account's IAM users"
  assume_role_policy = local.hub_trust
}

resource "aws_iam_role_policy" "enforce" {
  count = var.enable_enforce_role ? 1 : 0
  name  = "iamwarden-member-enforce"
  role  = aws_iam_role.enforce[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(local.audit_statements, [{
      Sid      = "IamwardenEnforce"
      Effect   = "Allow"
      Action   = ["iam:DeleteLoginProfile", "iam:UpdateAccessKey", "iam:CreateLoginProfile"]
      Resource = "arn:aws:iam::*:user/*"
    }])
  })
}

# The account's CloudTrail IAM events (the hub's pattern) to the hub's bus.
resource "aws_cloudwatch_event_rule" "forward" {
  name_prefix = "iamwarden-forward-"
  description = "CloudTrail IAM user events forwarded to the iamwarden hub"
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

resource "aws_cloudwatch_event_target" "forward" {
  rule      = aws_cloudwatch_event_rule.forward.name
  target_id = "iamwarden-hub"
  arn       = local.hub_event_bus_arn
  role_arn  = aws_iam_role.forwarder.arn

  # A lost event is found at the hub's next sweep.
  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }
}

# The role EventBridge puts the events on the hub's bus with.
resource "aws_iam_role" "forwarder" {
  name_prefix = "iamwarden-forwarder-"
  description = "Role EventBridge forwards IAM events to the iamwarden hub's bus with"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "forwarder" {
  name = "forward-to-iamwarden-hub"
  role = aws_iam_role.forwarder.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = local.hub_event_bus_arn
    }]
  })
}
