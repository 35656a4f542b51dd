// Package remediate turns findings into actions and applies them safely.
//
// Plan is pure: findings in, actions out. Executor applies a plan: before each action it reads
// the user again from IAM and re-runs the same rule decision the scan used, so an action is only
// taken on a user who still qualifies; every action is journaled before it is attempted (with
// the state needed to undo it) and after; guards refuse to act on the caller, on denied
// accounts, and on plans larger than the blast-radius limit.
package remediate

import (
	"fmt"
	"slices"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Remediations maps rule IDs to the action that fixes their violations. Rules not listed are
// only notified.
type Remediations map[string]journal.Kind

// DefaultRemediations: console access is disabled for console users without MFA past their
// grace period and for unused passwords; unused access keys are deactivated (never deleted).
func DefaultRemediations() Remediations {
	return Remediations{
		"console-mfa-missing": journal.KindDisableConsole,
		"password-unused":     journal.KindDisableConsole,
		"access-key-unused":   journal.KindDeactivateKey,
	}
}

// Validate rejects unknown rules, root rules and actions that do not fix a rule's finding.
func (r Remediations) Validate() error {
	for id, kind := range r {
		rule, ok := rules.Lookup(id)
		if !ok {
			return fmt.Errorf("remediation for unknown rule %q", id)
		}
		if rule.Root {
			return fmt.Errorf("remediation for %s: root findings are never remediated", id)
		}
		switch kind {
		case journal.KindDisableConsole:
			if !slices.Contains([]string{"console-mfa-missing", "password-unused"}, id) {
				return fmt.Errorf("remediation for %s: disable-console does not fix it", id)
			}
		case journal.KindDeactivateKey:
			if !slices.Contains([]string{"access-key-unused", "access-key-not-rotated"}, id) {
				return fmt.Errorf("remediation for %s: deactivate-key does not fix it", id)
			}
		default:
			return fmt.Errorf("remediation for %s: unknown action %q (want disable-console or deactivate-key)", id, kind)
		}
	}
	return nil
}

// Action is one change the plan asks for.
type Action struct {
	Kind         journal.Kind `json:"kind"`
	AccountID    string       `json:"account_id"`
	Principal    string       `json:"principal"`
	PrincipalARN string       `json:"principal_arn"`
	// UserID is the user's unique ID when the data read held it: a user replaced since is not
	// acted on.
	UserID string `json:"user_id,omitempty"`
	// Resource is the access key ID of a deactivate-key action.
	Resource  string         `json:"resource,omitempty"`
	Rule      string         `json:"rule"`
	FindingID string         `json:"finding_id"`
	Severity  rules.Severity `json:"severity"`
	Reason    string         `json:"reason"`
	// Refusal, when set, says why the action must not be taken although its finding is a
	// violation (e.g. the evidence does not pin down which key it is); it is shown, never done.
	Refusal string `json:"refusal,omitempty"`
}

// Plan is what enforcement would do for one account.
type Plan struct {
	AccountID    string `json:"account_id"`
	AccountAlias string `json:"account_alias"`
	// Actions are the changes, in finding order; at most one disable-console per user. An action
	// with a Refusal is listed to be shown with its reason, and never taken.
	Actions []Action `json:"actions"`
	// NotifyOnly are violations of rules that are never or not configured to be remediated.
	NotifyOnly []rules.Finding `json:"notify_only"`
	// Pending are findings inside a grace period: their users are warned, not acted on.
	Pending []rules.Finding `json:"pending"`
}

// BuildPlan turns findings into a plan. Only violations are acted on: pending and exempt
// findings never are, nor root findings. A key finding without a key ID gets an action refused
// with the reason: no key is deactivated on a guess.
func BuildPlan(accountID, alias string, findings []rules.Finding, rem Remediations) Plan {
	p := Plan{AccountID: accountID, AccountAlias: alias, Actions: []Action{}, NotifyOnly: []rules.Finding{}, Pending: []rules.Finding{}}
	console := map[string]bool{}
	for _, f := range findings {
		switch f.State {
		case rules.StatePending:
			p.Pending = append(p.Pending, f)
			continue
		case rules.StateExempt:
			continue
		}
		kind, ok := rem[f.Rule]
		if !ok || f.Principal == inventory.RootName {
			p.NotifyOnly = append(p.NotifyOnly, f)
			continue
		}
		a := Action{Kind: kind, AccountID: accountID, Principal: f.Principal, PrincipalARN: f.PrincipalARN, UserID: f.UserID,
			Rule: f.Rule, FindingID: f.ID, Severity: f.Severity, Reason: f.Detail}
		switch kind {
		case journal.KindDisableConsole:
			if console[f.Principal] {
				continue // one login profile, one action
			}
			console[f.Principal] = true
		case journal.KindDeactivateKey:
			if f.Key != nil && f.Key.ID != "" {
				a.Resource = f.Key.ID
			} else {
				// A key without an ID cannot be acted on; guessing could deactivate a key in use.
				a.Refusal = unnamedKeyReason(f.Key)
			}
		}
		p.Actions = append(p.Actions, a)
	}
	return p
}

// unnamedKeyReason says why a key finding without a key ID is not acted on.
func unnamedKeyReason(k *inventory.AccessKey) string {
	if k == nil {
		return "the finding names no access key"
	}
	if note := rules.KeyIDNote(*k); note != "" {
		return k.Ref() + " is not deactivated; " + note
	}
	return k.Ref() + " is not deactivated; key ID unknown: the user's access keys were not listed"
}

// Changes counts the actions that may change the account: refused ones never do, and do not
// count toward the blast-radius limit.
func (p Plan) Changes() int {
	n := 0
	for _, a := range p.Actions {
		if a.Refusal == "" {
			n++
		}
	}
	return n
}
