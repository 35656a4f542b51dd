package history

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// ChangeKind is how a finding differs between two records.
type ChangeKind string

// The kinds of change.
const (
	// ChangeNew: the finding is in the later record only.
	ChangeNew ChangeKind = "new"
	// ChangeResolved: the finding is in the earlier record only, and the later one read the
	// account completely.
	ChangeResolved ChangeKind = "resolved"
	// ChangeChanged: the finding is in both, with another state, severity, deadline, exemption or
	// person (the same user name given to a new user).
	ChangeChanged ChangeKind = "changed"
	// ChangeUnseen: the finding is in the earlier record only, but the later one is partial: it
	// may not have been read, so it is not called resolved.
	ChangeUnseen ChangeKind = "unseen"
)

// Change is one finding that differs.
type Change struct {
	Kind ChangeKind `json:"change"`
	// Finding is the finding as the later record has it; for resolved and unseen findings, as
	// the earlier one had it.
	Finding rules.Finding `json:"finding"`
	// Before is the finding in the earlier record, for changed findings.
	Before *rules.Finding `json:"before,omitempty"`
	// Fields names what changed: state, severity, deadline, exemption, user.
	Fields []string `json:"fields,omitempty"`
}

// Diff is what changed in one account between two records.
type Diff struct {
	AccountID string `json:"account_id"`
	From      Meta   `json:"from"`
	To        Meta   `json:"to"`
	// Changes are ordered by kind (new, changed, resolved, unseen), then finding ID.
	Changes []Change `json:"changes"`
	// Unchanged counts the findings the same in both.
	Unchanged int `json:"unchanged"`
}

// Count returns how many changes are of kind k.
func (d *Diff) Count(k ChangeKind) int {
	n := 0
	for _, c := range d.Changes {
		if c.Kind == k {
			n++
		}
	}
	return n
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool { return len(d.Changes) == 0 }

// Compare says what changed from the earlier record to the later one. Both must be of the same
// account. Findings are matched by their stable ID.
func Compare(from, to *Record) (*Diff, error) {
	if from.Result.AccountID != to.Result.AccountID {
		return nil, fmt.Errorf("records %s and %s are of different accounts (%s, %s): compare records of one account",
			from.ID, to.ID, from.Result.AccountID, to.Result.AccountID)
	}
	d := &Diff{AccountID: to.Result.AccountID, From: from.Meta(), To: to.Meta(), Changes: []Change{}}
	before := make(map[string]rules.Finding, len(from.Result.Findings))
	for _, f := range from.Result.Findings {
		before[f.ID] = f
	}
	seen := make(map[string]bool, len(to.Result.Findings))
	for _, f := range to.Result.Findings {
		seen[f.ID] = true
		old, ok := before[f.ID]
		if !ok {
			d.Changes = append(d.Changes, Change{Kind: ChangeNew, Finding: f})
			continue
		}
		if fields := changedFields(old, f); len(fields) > 0 {
			d.Changes = append(d.Changes, Change{Kind: ChangeChanged, Finding: f, Before: &old, Fields: fields})
		} else {
			d.Unchanged++
		}
	}
	gone := ChangeResolved
	if to.Result.Partial {
		gone = ChangeUnseen
	}
	for _, f := range from.Result.Findings {
		if !seen[f.ID] {
			d.Changes = append(d.Changes, Change{Kind: gone, Finding: f})
		}
	}
	order := map[ChangeKind]int{ChangeNew: 0, ChangeChanged: 1, ChangeResolved: 2, ChangeUnseen: 3}
	slices.SortStableFunc(d.Changes, func(a, b Change) int {
		if c := order[a.Kind] - order[b.Kind]; c != 0 {
			return c
		}
		return strings.Compare(a.Finding.ID, b.Finding.ID)
	})
	return d, nil
}

// changedFields names what differs between two versions of a finding. The detail text is left
// out: it says "unused for 95 days" one day and "96 days" the next.
func changedFields(a, b rules.Finding) []string {
	var out []string
	if a.State != b.State {
		out = append(out, "state")
	}
	if a.Severity != b.Severity {
		out = append(out, "severity")
	}
	if !sameTime(a.Deadline, b.Deadline) {
		out = append(out, "deadline")
	}
	if !sameExemption(a.Exemption, b.Exemption) {
		out = append(out, "exemption")
	}
	if a.UserID != "" && b.UserID != "" && a.UserID != b.UserID {
		out = append(out, "user")
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func sameExemption(a, b *rules.Exemption) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Reason == b.Reason && a.Source == b.Source && a.Expired == b.Expired && sameTime(a.Until, b.Until)
}

// Worse counts the violations the later record has that the earlier did not: new findings
// that are violations, and findings that changed into a violation. Pending and exempt findings,
// and violations that changed otherwise (severity, deadline), do not count.
func (d *Diff) Worse() int {
	n := 0
	for _, c := range d.Changes {
		switch {
		case c.Kind == ChangeNew && c.Finding.State == rules.StateViolation,
			c.Kind == ChangeChanged && c.Finding.State == rules.StateViolation && c.Before != nil && c.Before.State != rules.StateViolation:
			n++
		}
	}
	return n
}
