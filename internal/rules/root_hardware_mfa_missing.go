package rules

import (
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

func rootHardwareMFAMissing() Rule {
	return Rule{
		ID:       "root-hardware-mfa-missing",
		Title:    "Root user MFA is a virtual device",
		Severity: SeverityHigh,
		Controls: []string{"FSBP IAM.6", "CIS v5.0.0 1.5", "CIS v3.0.0 1.6"},
		Doc:      "docs/rules/root-hardware-mfa-missing.md",
		Root:     true,
		// The MFA device list and the last uses come with root's report row.
		NeedsRootRow: true,
		Check:        checkRootHardwareMFAMissing,
	}
}

// checkRootHardwareMFAMissing: the root user has MFA, and a virtual (authenticator app) device is
// among its devices. Root without any MFA is root-mfa-missing's finding, not this one.
func checkRootHardwareMFAMissing(_ Env, p *inventory.User) []Verdict {
	if !p.IsRoot || !p.MFA.Active || !p.MFA.HasVirtual() || p.RootSummary != nil {
		return nil
	}
	serials := []string{}
	for _, d := range p.MFA.Devices {
		if d.Virtual {
			serials = append(serials, d.Serial)
		}
	}
	return []Verdict{{
		State: StateViolation,
		Detail: fmt.Sprintf("the root user signs in with a virtual MFA device (%s) rather than a hardware one",
			strings.Join(serials, ", ")),
		Evidence: map[string]any{
			"mfa_active":          true,
			"virtual_mfa_devices": serials,
		},
	}}
}
