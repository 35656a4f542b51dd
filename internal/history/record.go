// Package history keeps the scans and enforce runs iamwarden recorded, and says what changed
// between two of them. Records live in the journal store (journal.RunStore): the SQLite file of
// the CLI or the DynamoDB table shared with the Lambda.
package history

import (
	"time"

	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Kind says what made a record.
type Kind string

// The kinds of record.
const (
	// KindScan: a scan, which changes nothing.
	KindScan Kind = "scan"
	// KindEnforce: an enforce run; its result is the scan it planned from.
	KindEnforce Kind = "enforce"
)

// Source says which door recorded it.
const (
	SourceCLI    = "cli"
	SourceLambda = "lambda"
)

// Record is one recorded run of one account: its whole scan result, and for an enforce run
// what the run did.
type Record struct {
	ID         string    `json:"id"`
	Kind       Kind      `json:"kind"`
	Source     string    `json:"source"`
	Actor      string    `json:"actor"`
	RecordedAt time.Time `json:"recorded_at"`
	// Result is the scan. Access key IDs are kept whole, as the journal keeps them: every
	// output masks them.
	Result report.Result `json:"result"`
	// Actions counts what an enforce run did; nil for a scan and for a dry run.
	Actions *Actions `json:"actions,omitempty"`
}

// Actions counts the outcomes of an enforce run.
type Actions struct {
	DryRun  bool `json:"dry_run"`
	Planned int  `json:"planned"`
	Done    int  `json:"done"`
	Skipped int  `json:"skipped"`
	Failed  int  `json:"failed"`
}

// Meta is what a listing shows of a record, without its findings: enough to draw findings over
// time.
type Meta struct {
	ID           string         `json:"id"`
	AccountID    string         `json:"account_id"`
	AccountAlias string         `json:"account_alias"`
	Kind         Kind           `json:"kind"`
	Source       string         `json:"source"`
	Actor        string         `json:"actor"`
	RecordedAt   time.Time      `json:"recorded_at"`
	AsOf         time.Time      `json:"as_of"`
	Partial      bool           `json:"partial"`
	Summary      report.Summary `json:"summary"`
	// Open counts the violations and pending findings by rule and by severity.
	OpenByRule     map[string]int `json:"open_by_rule"`
	OpenBySeverity map[string]int `json:"open_by_severity"`
	Actions        *Actions       `json:"actions,omitempty"`
}

// Meta summarises r.
func (r *Record) Meta() Meta {
	m := Meta{
		ID: r.ID, AccountID: r.Result.AccountID, AccountAlias: r.Result.AccountAlias, Kind: r.Kind, Source: r.Source,
		Actor: r.Actor, RecordedAt: r.RecordedAt, AsOf: r.Result.AsOf, Partial: r.Result.Partial, Summary: r.Result.Summary,
		OpenByRule: map[string]int{}, OpenBySeverity: map[string]int{}, Actions: r.Actions,
	}
	for _, f := range r.Result.Findings {
		if Open(f) {
			m.OpenByRule[f.Rule]++
			m.OpenBySeverity[string(f.Severity)]++
		}
	}
	return m
}

// Open reports whether a finding still asks for something to be done: a violation, or a
// pending finding whose grace period runs.
func Open(f rules.Finding) bool {
	return f.State == rules.StateViolation || f.State == rules.StatePending
}
