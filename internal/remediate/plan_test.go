package remediate_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// A key finding whose key ID is not known gets a deactivation refused with the reason, naming
// no key.
func TestBuildPlanRefusesKeysWithoutID(t *testing.T) {
	keyFinding := func(user string, k *inventory.AccessKey) rules.Finding {
		res := ""
		if k != nil {
			res = k.Ref()
		}
		return rules.Finding{ID: "1/access-key-unused/" + user + "/" + res, Rule: "access-key-unused", Severity: rules.SeverityMedium,
			State: rules.StateViolation, Principal: user, PrincipalARN: "arn:aws:iam::1:user/" + user, Resource: res, Detail: "unused", Key: k}
	}
	named := &inventory.AccessKey{Slot: 1, ID: "AKIAIOSFODNN7EXAMPLE", Active: true}
	undecided := &inventory.AccessKey{Slot: 2, Active: true, Unmatched: &inventory.UnmatchedKey{
		Reason: inventory.UnmatchedIndistinguishable, Candidates: []string{"AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPL2"}}}
	unlisted := &inventory.AccessKey{Slot: 1, Active: true}
	findings := []rules.Finding{keyFinding("named", named), keyFinding("clones", undecided), keyFinding("unlisted", unlisted), keyFinding("nokey", nil)}

	p := remediate.BuildPlan("1", "", findings, remediate.DefaultRemediations())
	want := map[string]string{
		"named":    "",
		"clones":   "access_key_2 is not deactivated; key ID undecided: AKIA…MPLE and AKIA…MPL2 both match its creation time, status and last use in the credential report",
		"unlisted": "access_key_1 is not deactivated; key ID unknown: the user's access keys were not listed",
		"nokey":    "the finding names no access key",
	}
	if len(p.Actions) != len(want) || len(p.NotifyOnly) != 0 {
		t.Fatalf("actions %+v, notify only %+v: want one action per finding", p.Actions, p.NotifyOnly)
	}
	for i, a := range p.Actions {
		if a.Refusal != want[a.Principal] {
			t.Errorf("%s refusal\n %q\nwant %q", a.Principal, a.Refusal, want[a.Principal])
		}
		res := ""
		if a.Principal == "named" {
			res = named.ID
		}
		if a.Kind != journal.KindDeactivateKey || a.Resource != res || a.FindingID != findings[i].ID || a.Reason != "unused" {
			t.Errorf("action %+v", a)
		}
	}

	raw, err := json.Marshal(p.Actions[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"refusal":"access_key_2 is not deactivated; key ID undecided: `) || strings.Contains(string(raw), `"resource"`) {
		t.Errorf("refused action JSON %s", raw)
	}
}

// Refused actions change nothing, so they do not count toward the blast-radius limit.
func TestPlanChangesLeaveOutRefused(t *testing.T) {
	p := remediate.Plan{Actions: []remediate.Action{{Kind: journal.KindDeactivateKey, Refusal: "key ID undecided"},
		{Kind: journal.KindDisableConsole, Principal: "alice"}, {Kind: journal.KindDeactivateKey, Refusal: "key ID undecided"}}}
	if got := p.Changes(); got != 1 {
		t.Errorf("Changes() = %d, want 1", got)
	}
}
