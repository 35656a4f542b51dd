// Package htmlreport renders scan results as one self-contained HTML page for the people who
// read them: a summary, findings over time, who loses access when, and every user's findings
// with their evidence. The page loads nothing: its style, script and charts are inline, and its
// Content-Security-Policy forbids the browser any fetch.
package htmlreport

import (
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/report"
)

// Input is what one page shows.
type Input struct {
	Title       string
	GeneratedAt time.Time
	Version     string
	// Accounts are the accounts' latest results, in any order: the page sorts them by ID.
	Accounts []Account
	// History is the series of recorded runs the charts draw, in any order; nil draws none.
	History []history.Meta
	// InlineFindings is the most findings the page writes out as HTML, each with its evidence.
	// Above it, the page holds each user's findings as JSON data, which its script shows on
	// demand, user by user. Zero means DefaultInlineFindings.
	InlineFindings int
}

// DefaultInlineFindings is the most findings a page writes out as HTML unless told otherwise:
// past a few thousand, a browser takes seconds to open the page.
const DefaultInlineFindings = 2000

// Account is one account's result, as a scan, an organization scan or the history gives it.
type Account struct {
	AccountID string
	// Name is the account's alias or organization name.
	Name string
	// Status is how the account's scan ended; empty means ok.
	Status report.AccountStatus
	// Error says why the account failed or is partial.
	Error string
	// Result is the scan; nil for an account that could not be read.
	Result *report.Result
	// FromPlan says the findings were taken from an enforce run's plan, not from a scan.
	FromPlan bool
	// Enforce is what an enforce run did in the account, when one is known.
	Enforce *Enforce
}

// Enforce is the outcome of an enforce run in one account.
type Enforce struct {
	DryRun  bool
	Planned int
	Done    int
	Skipped int
	Refused int
	Failed  int
	// RefusedPlan says why the whole plan was refused; Stopped why the run stopped early.
	RefusedPlan string
	Stopped     string
	// Actions are the planned or attempted actions, when the enforce output gave them.
	Actions []Action
}

// Action is one enforce action and what became of it.
type Action struct {
	Status    string
	Kind      string
	Principal string
	// Resource is the access key ID of a key action (masked on the page).
	Resource string
	Rule     string
	Detail   string
}
