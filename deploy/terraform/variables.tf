# The variables of deploy/cloudformation/iamwarden.yaml's parameters, in snake_case, plus name
# (the stack name there) and lambda_zip.

variable "name" {
  description = "Name of the function, its log group (/aws/lambda/NAME) and its schedule group."
  type        = string
  default     = "iamwarden"
}

variable "mode" {
  description = "report judges and notifies only; enforce also disables what the rules say."
  type        = string
  default     = "report"
  validation {
    condition     = contains(["report", "enforce"], var.mode)
    error_message = "mode must be report or enforce."
  }
}

variable "grace" {
  description = "Time a new console user has to register MFA (e.g. 72h, 3d)."
  type        = string
  default     = "72h"
  validation {
    condition     = can(regex("^[0-9]+[hd]$", var.grace))
    error_message = "grace must be hours or days, e.g. 72h or 3d."
  }
}

variable "mfa_removed_grace" {
  description = "Time a console user who removes their last MFA device has to register another (0h: none, console access goes at once in enforce mode)."
  type        = string
  default     = "0h"
  validation {
    condition     = can(regex("^[0-9]+[hd]$", var.mfa_removed_grace))
    error_message = "mfa_removed_grace must be hours or days, e.g. 0h or 24h."
  }
}

variable "unused_days" {
  description = "Days after which an unused password or access key counts as unused."
  type        = number
  default     = 90
}

variable "history_retention_days" {
  description = "Days the journal table keeps each sweep's history record before its TTL deletes it (0: keep forever)."
  type        = number
  default     = 90
  validation {
    condition     = var.history_retention_days >= 0 && var.history_retention_days <= 36500 && floor(var.history_retention_days) == var.history_retention_days
    error_message = "history_retention_days must be a whole number of days from 0 to 36500."
  }
}

variable "exemption_parameter" {
  description = "SSM StringList parameter of exempt user names, a hierarchical name starting with / (empty: none)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^/[a-zA-Z0-9_.\\-/]+$", var.exemption_parameter))
    error_message = "exemption_parameter must be empty or a hierarchical name starting with /."
  }
}

variable "config_parameter" {
  description = "SSM parameter holding the configuration document, a hierarchical name starting with / (empty: none)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^/[a-zA-Z0-9_.\\-/]+$", var.config_parameter))
    error_message = "config_parameter must be empty or a hierarchical name starting with /."
  }
}

variable "config" {
  description = "Inline configuration document (YAML, as the CLI's --config); empty: none."
  type        = string
  default     = ""
}

variable "notification_email" {
  description = "Email address subscribed to the notification topic (empty: no subscription)."
  type        = string
  default     = ""
}

variable "sweep_schedule" {
  description = "Schedule expression of the sweep over every user."
  type        = string
  default     = "rate(1 hour)"
}

variable "enable_config_rule" {
  description = "Create a periodic AWS Config custom rule evaluating every IAM user (needs a configuration recorder)."
  type        = bool
  default     = false
}

variable "maximum_execution_frequency" {
  description = "How often the AWS Config rule runs."
  type        = string
  default     = "TwentyFour_Hours"
  validation {
    condition     = contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], var.maximum_execution_frequency)
    error_message = "maximum_execution_frequency must be One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours."
  }
}

variable "max_actions" {
  description = "Most changes one invocation makes (blast radius)."
  type        = number
  default     = 25
}

variable "lambda_zip" {
  description = "Local path of the function's zip (make lambda builds dist/lambda/iamwarden-lambda.zip); null: code_bucket and code_key."
  type        = string
  default     = null
}

variable "code_bucket" {
  description = "S3 bucket holding the function's zip, when lambda_zip is null."
  type        = string
  default     = null
}

variable "code_key" {
  description = "S3 key of the function's zip, when lambda_zip is null."
  type        = string
  default     = "iamwarden-lambda.zip"
}

variable "log_retention_days" {
  description = "Days the function's logs are kept."
  type        = number
  default     = 90
}

variable "enable_security_hub" {
  description = "Import findings into Security Hub (in organization mode, into each account's own Security Hub)."
  type        = bool
  default     = false
}

# Organization mode (docs/deploy.md#organization-mode, docs/organizations.md).

variable "organization_mode" {
  description = "true makes the function the organization's hub: it sweeps every member account through its member role and judges the IAM events the members forward."
  type        = bool
  default     = false
}

variable "organization_id" {
  description = "The organization's ID (o-...); its accounts may put events on the hub's bus. Required in organization mode."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be empty or an organization ID, o-...."
  }
}

variable "external_id" {
  description = "ExternalId the hub passes when it assumes the member roles (the member module's external_id). Required in organization mode."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^[\\w+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id must be empty or 2 to 1224 characters of letters, digits and +=,.@:/-."
  }
}

variable "member_role_name" {
  description = "Role the hub assumes in member accounts in report mode (the member module's audit_role_name)."
  type        = string
  default     = "iamwarden-audit"
}

variable "enforce_role_name" {
  description = "Role the hub assumes in member accounts in enforce mode (the member module's enforce_role_name)."
  type        = string
  default     = "iamwarden-enforce"
}

variable "event_bus_name" {
  description = "Event bus the member accounts forward their IAM events to (the member module's hub_event_bus_name)."
  type        = string
  default     = "iamwarden"
}

variable "maximum_concurrency" {
  description = "Most accounts the hub works on at once (the account queue's event source mapping)."
  type        = number
  default     = 5
  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000."
  }
}
