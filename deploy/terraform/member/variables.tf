# The variables of deploy/cloudformation/member.yaml's parameters, in snake_case.

variable "hub_account_id" {
  description = "The account the iamwarden hub (the module in ../ with organization_mode) runs in."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.hub_account_id))
    error_message = "hub_account_id must be a 12-digit account ID."
  }
}

variable "hub_function_role_name" {
  description = "Name of the hub function's role (the hub module's function_role_name output); the only principal the roles trust."
  type        = string
}

variable "external_id" {
  description = "ExternalId the hub passes when it assumes the roles (the hub's external_id)."
  type        = string
  validation {
    condition     = can(regex("^[\\w+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id must be 2 to 1224 characters of letters, digits and +=,.@:/-."
  }
}

variable "organization_id" {
  description = "The organization's ID (o-...); the roles trust the hub only while it is in this organization."
  type        = string
  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an organization ID, o-...."
  }
}

variable "audit_role_name" {
  description = "Name of the role the hub assumes in report mode (the hub's member_role_name)."
  type        = string
  default     = "iamwarden-audit"
}

variable "enforce_role_name" {
  description = "Name of the role the hub assumes in enforce mode (the hub's enforce_role_name)."
  type        = string
  default     = "iamwarden-enforce"
}

variable "enable_enforce_role" {
  description = "Create the enforce role, which may delete console passwords and deactivate access keys."
  type        = bool
  default     = false
}

variable "hub_event_bus_name" {
  description = "The hub's event bus (the hub's event_bus_name) the IAM events are forwarded to."
  type        = string
  default     = "iamwarden"
}

variable "exemption_parameter" {
  description = "SSM StringList parameter of exempt user names in this account, as the hub's exemption_parameter (empty: the renderer's default name)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^$|^/[a-zA-Z0-9_.\\-/]+$", var.exemption_parameter))
    error_message = "exemption_parameter must be empty or a hierarchical name starting with /."
  }
}
