package rules_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestRootHardwareMFAMissing(t *testing.T) {
	virtual := inventory.MFADevice{Serial: "arn:aws:iam::123456789012:mfa/root-account-mfa-device", Virtual: true}
	runCases(t, "root-hardware-mfa-missing", []ruleCase{
		{
			name: "virtual device",
			user: inventory.User{IsRoot: true, MFA: inventory.MFA{Active: true, Devices: []inventory.MFADevice{virtual}}},
			want: []want{{
				State:  rules.StateViolation,
				Detail: "the root user signs in with a virtual MFA device (arn:aws:iam::123456789012:mfa/root-account-mfa-device) rather than a hardware one",
				Evidence: map[string]any{
					"mfa_active":          true,
					"virtual_mfa_devices": []string{"arn:aws:iam::123456789012:mfa/root-account-mfa-device"},
				},
			}},
		},
		{
			name: "virtual device next to a hardware one",
			user: inventory.User{IsRoot: true, MFA: inventory.MFA{Active: true, Devices: []inventory.MFADevice{
				{Serial: "arn:aws:iam::123456789012:u2f/root/yubikey", Virtual: false}, virtual,
			}}},
			want: []want{{State: rules.StateViolation, Detail: "~virtual MFA device (arn:aws:iam::123456789012:mfa/root-account-mfa-device)"}},
		},
		{
			name: "incomplete root with a virtual device is still judged",
			user: inventory.User{IsRoot: true, Incomplete: true, MFA: inventory.MFA{Active: true, Devices: []inventory.MFADevice{virtual}}},
			want: []want{{State: rules.StateViolation, Detail: "~virtual MFA device"}},
		},
		{name: "hardware only: no virtual device listed", user: inventory.User{IsRoot: true, MFA: inventory.MFA{Active: true}}},
		{name: "no MFA at all is root-mfa-missing's finding", user: inventory.User{IsRoot: true}},
		{
			name: "stale virtual device without MFA active",
			user: inventory.User{IsRoot: true, MFA: inventory.MFA{Devices: []inventory.MFADevice{virtual}}},
		},
		{name: "root known from the account summary only is not judged", user: inventory.User{IsRoot: true, RootSummary: &inventory.RootSummary{MFAEnabled: true}, MFA: inventory.MFA{Active: true, Devices: []inventory.MFADevice{virtual}}}},
		{name: "IAM user is not root", user: inventory.User{MFA: inventory.MFA{Active: true, Devices: []inventory.MFADevice{virtual}}}},
	})
}
