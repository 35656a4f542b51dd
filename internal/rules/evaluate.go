package rules

import (
	"fmt"
	"slices"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// Evaluate runs rules on one principal and applies exemptions. It is the one decision shared by
// scan and remediation. ex may be nil.
func Evaluate(env Env, accountID string, p *inventory.User, rules []Rule, ex Exempter) []Finding {
	var out []Finding
	if !p.Created.IsZero() && p.Created.After(env.AsOf) {
		return nil // the principal did not exist at the instant judged
	}
	for _, r := range rules {
		if r.Root != p.IsRoot {
			continue
		}
		for _, v := range r.Check(env, p) {
			f := Finding{
				ID:           FindingID(accountID, r.ID, p.Name, v.Resource),
				AccountID:    accountID,
				Rule:         r.ID,
				Severity:     r.Severity,
				State:        v.State,
				Principal:    p.Name,
				PrincipalARN: p.ARN,
				UserID:       p.ID,
				Resource:     v.Resource,
				Controls:     slices.Clone(r.Controls),
				Title:        r.Title,
				Detail:       v.Detail,
				Evidence:     v.Evidence,
				Key:          v.Key,
			}
			if k := v.Key; k != nil && k.ID == "" && k.Unmatched != nil {
				f.KeyIDUnknown = &inventory.UnmatchedKey{Reason: k.Unmatched.Reason, Candidates: slices.Clone(k.Unmatched.Candidates)}
				if f.KeyIDUnknown.Candidates == nil {
					f.KeyIDUnknown.Candidates = []string{}
				}
			}
			if f.Controls == nil {
				f.Controls = []string{}
			}
			if v.State == StatePending {
				d := v.Deadline
				f.Deadline = &d
			}
			if ex != nil {
				if e, ok := ex.Exemption(p, r.ID, env.AsOf); ok {
					e := e
					f.Exemption = &e
					if e.Expired {
						f.Detail += fmt.Sprintf(" (exemption from %s expired %s; not applied)", e.Source, e.Until.UTC().Format("2006-01-02T15:04:05Z"))
					} else {
						f.State = StateExempt
					}
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// Lookup returns the registered rule with id.
func Lookup(id string) (Rule, bool) {
	for _, r := range Registry() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
