// Package report turns a scan's findings into the documented outputs: a table for people, JSON
// for machines, CSV for spreadsheets.
package report

import (
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Result is one scan of one account. Its JSON form is stable and documented in docs/scan.md.
type Result struct {
	AccountID    string `json:"account_id"`
	AccountAlias string `json:"account_alias"`
	// GeneratedAt is when this result was produced; AsOf the instant the rules judged at;
	// DataReadAt when the account data was read (for an export: when it was taken).
	GeneratedAt time.Time        `json:"generated_at"`
	AsOf        time.Time        `json:"as_of"`
	DataReadAt  time.Time        `json:"data_read_at"`
	ReportAt    *time.Time       `json:"credential_report_generated_at,omitempty"`
	Source      inventory.Source `json:"source"`
	// ConfigFile is the configuration file the scan used; empty when none was found (defaults).
	ConfigFile string `json:"config_file"`
	// Partial is true when part of the account could not be read or understood; Errors says what.
	Partial  bool                `json:"partial"`
	Errors   []inventory.Problem `json:"errors"`
	Warnings []inventory.Problem `json:"warnings"`
	Summary  Summary             `json:"summary"`
	Findings []rules.Finding     `json:"findings"`
	// Calls counts AWS API calls by operation (live scans with --stats only).
	Calls map[string]int `json:"api_calls,omitempty"`
}

// Summary counts findings and principals.
type Summary struct {
	Users      int `json:"users"`
	Violations int `json:"violations"`
	Pending    int `json:"pending"`
	Exempt     int `json:"exempt"`
}

// Count fills the summary from the findings.
func (r *Result) Count(users int) {
	r.Summary = Summary{Users: users}
	for _, f := range r.Findings {
		switch f.State {
		case rules.StateViolation:
			r.Summary.Violations++
		case rules.StatePending:
			r.Summary.Pending++
		case rules.StateExempt:
			r.Summary.Exempt++
		}
	}
}

// Exit codes of the scan command.
const (
	ExitClean      = 0
	ExitViolations = 1
	ExitError      = 2
	ExitPartial    = 3
)

// ExitCode is 3 for a partial result (whatever it found: an incomplete scan must not pass as
// clean), else 1 when any violation was found, else 0. Pending and exempt findings do not fail.
func (r *Result) ExitCode() int {
	switch {
	case r.Partial:
		return ExitPartial
	case r.Summary.Violations > 0:
		return ExitViolations
	default:
		return ExitClean
	}
}
