# Policies given in every way Terraform configurations write them.

resource "aws_iam_policy" "heredoc" {
  name   = "heredoc"
  policy = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Action": ["iam:EnableMFADevice", "iam:CreateVirtualMFADevice"],
        "Resource": "arn:aws:iam::*:mfa/$${aws:username}"
      }]
    }
  EOT
}

resource "aws_iam_user_policy" "encoded" {
  name = "encoded"
  user = "alice"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["iam:ListMFADevices"]
        Resource = "*"
      },
      {
        Effect    = "Deny"
        NotAction = ["iam:*"]
        Resource  = "*"
        Condition = { Bool = { "aws:MultiFactorAuthPresent" = "false" } }
      },
    ]
  })
}

data "aws_iam_policy_document" "computed" {
  statement {
    actions   = ["s3:*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "reference" {
  name   = "reference"
  role   = "r"
  policy = data.aws_iam_policy_document.computed.json
}

resource "aws_iam_group_policy" "from_file" {
  name   = "from_file"
  group  = "g"
  policy = file("${path.module}/policy.json")
}

resource "aws_organizations_policy" "scp" {
  name    = "scp"
  content = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }]
  })
}

resource "aws_organizations_policy" "tags" {
  name    = "tags"
  type    = "TAG_POLICY"
  content = "{\"tags\": {}}"
}

resource "aws_iam_role" "unrelated" {
  name               = "unrelated"
  assume_role_policy = "{}"
}
