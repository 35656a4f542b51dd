package warden

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/scan"
)

// AuditOptions say what to audit and how.
type AuditOptions struct {
	// From is an export directory to read instead of the live account.
	From string
	// AsOf is the instant to judge at: RFC 3339, YYYY-MM-DD, or +/-duration from the data's
	// read time; "" for the read time.
	AsOf string
	// SCPs replace the SCPs read from the organization or the export when set.
	SCPs *inventory.SCPs
	// Concurrency bounds the per-user lookups of a live audit in flight.
	Concurrency int
	// Progress is told how far the per-user lookups are.
	Progress func(step scan.Step, done, total int)

	// exempter, when set, is the exemptions already loaded by a run that acts.
	exempter rules.Exempter
}

// Audit reads the account (live, or from an export) and judges every user and root with the
// settings' rules and exemptions.
func (w *Warden) Audit(ctx context.Context, o AuditOptions) (*report.Result, error) {
	res, _, err := w.audit(ctx, o)
	return res, err
}

// AuditSnapshot is Audit, also returning the snapshot judged: what a report that describes the
// users themselves (Security Hub's resource details) needs.
func (w *Warden) AuditSnapshot(ctx context.Context, o AuditOptions) (*report.Result, *inventory.Snapshot, error) {
	return w.audit(ctx, o)
}

// UserResult is one IAM user's part of an audit.
type UserResult struct {
	Name, ID string
	Findings []rules.Finding
	// Problem says why the user could not be judged completely; "" when it was.
	Problem string
}

// AuditUsers audits the account live and also returns the result user by user, with the users
// that have no finding: what a per-resource report (AWS Config) needs.
func (w *Warden) AuditUsers(ctx context.Context) (*report.Result, []UserResult, error) {
	res, snap, err := w.audit(ctx, AuditOptions{})
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*UserResult{}
	users := make([]UserResult, len(snap.Users))
	for i, u := range snap.Users {
		users[i] = UserResult{Name: u.Name, ID: u.ID, Findings: []rules.Finding{}}
		if u.Incomplete {
			users[i].Problem = "the user's data could not be read completely"
		}
		byName[u.Name] = &users[i]
	}
	for _, p := range res.Errors {
		if u := byName[p.Principal]; u != nil && p.Principal != "" {
			u.Problem = p.Where + ": " + p.Message
		}
	}
	for _, f := range res.Findings {
		if u := byName[f.Principal]; u != nil {
			u.Findings = append(u.Findings, f)
		}
	}
	return res, users, nil
}

func (w *Warden) audit(ctx context.Context, o AuditOptions) (*report.Result, *inventory.Snapshot, error) {
	if o.Concurrency < 0 {
		return nil, nil, inputError(fmt.Sprintf("--concurrency %d", scan.DefaultConcurrency), "concurrency must be at least 1, got %d", o.Concurrency)
	}
	var (
		snap     *inventory.Snapshot
		live     scan.Live
		warnings []inventory.Problem
		params   []string
		err      error
	)
	cfg := w.Settings.Config
	if o.From != "" {
		if snap, warnings, err = w.readExport(o.From); err != nil {
			return nil, nil, err
		}
	} else {
		loader := w.loader()
		org := w.Clients.Org
		if o.SCPs != nil {
			org = nil // given: not read
		}
		if snap, err = readAccount(ctx, loader, org); err != nil {
			return nil, nil, err
		}
		live = loader
		if p := cfg.ExemptionParameter; p != "" && o.exempter == nil {
			params, err = exempt.LoadParameter(ctx, w.Clients.SSM, p)
			switch {
			case errors.Is(err, exempt.ErrParameterNotFound):
				warnings = append(warnings, inventory.Problem{Where: "ssm:GetParameter", Message: err.Error() + "; no users exempted by it"})
			case err != nil:
				// Without the list, exempt users would be reported as violations: say the
				// result is partial rather than guess.
				snap.Problems = append(snap.Problems, inventory.Problem{Where: "ssm:GetParameter", Message: err.Error()})
			}
		}
	}
	if o.SCPs != nil {
		snap.SCPs = o.SCPs
	}
	asOf, err := ParseAsOf(o.AsOf, snap.ReadAt)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, exempt.Problems(snap.Users)...)
	grants, warning, err := w.graceGrants(ctx, snap.AccountID)
	if err != nil {
		return nil, nil, err
	}
	if warning != nil {
		warnings = append(warnings, *warning)
	}
	exempter := o.exempter
	if exempter == nil {
		exempter = exempt.New(cfg, params)
	}
	res, err := scan.Run(ctx, snap, scan.Options{
		AsOf:        asOf,
		Rules:       w.Settings.Rules,
		Thresholds:  w.Settings.Thresholds,
		Exempter:    exempter,
		Warnings:    warnings,
		Now:         w.clock(),
		Log:         w.Log,
		Concurrency: o.Concurrency,
		Progress:    o.Progress,
		GraceGrants: grants,
	}, live)
	if err != nil {
		return nil, nil, err
	}
	res.ConfigFile = w.Settings.ConfigSource
	return res, snap, nil
}

func (w *Warden) readExport(dir string) (*inventory.Snapshot, []inventory.Problem, error) {
	raw, err := inventory.ReadExport(dir)
	if err != nil {
		return nil, nil, &InputError{Err: err, Hint: "see docs/export.md for the files an export holds"}
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("export %s: %w", dir, err)
	}
	var warnings []inventory.Problem
	if snap.ReadAt.IsZero() {
		snap.ReadAt = w.now().UTC()
		warnings = append(warnings, inventory.Problem{Where: dir, Message: "the export has no read time (no manifest.json); judged as of now"})
	}
	if p := w.Settings.Config.ExemptionParameter; p != "" {
		warnings = append(warnings, inventory.Problem{Where: "ssm:" + p, Message: "exemption parameter not read in offline mode; users it lists are judged without it"})
	}
	return snap, warnings, nil
}

// readAccount reads the account live with loader and assembles the snapshot the rules judge.
// With org, it also reads the SCPs that govern the account.
func readAccount(ctx context.Context, loader *inventory.Loader, org inventory.OrganizationsAPI) (*inventory.Snapshot, error) {
	raw, err := loader.Load(ctx)
	if err != nil {
		return nil, err
	}
	if org != nil {
		if raw.SCPs, err = inventory.ReadSCPs(ctx, org, raw.AccountID); err != nil {
			return nil, err
		}
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		return nil, fmt.Errorf("live data: %w", err)
	}
	return snap, nil
}

// ReadAccount reads the account live, without judging it (policy lint and apply need the
// users and their policies).
func (w *Warden) ReadAccount(ctx context.Context, withSCPs bool) (*inventory.Snapshot, error) {
	org := w.Clients.Org
	if !withSCPs {
		org = nil
	}
	return readAccount(ctx, w.loader(), org)
}

// ParseAsOf resolves an as-of instant against the data's read time.
func ParseAsOf(s string, base time.Time) (time.Time, error) {
	const hint = "--as-of +7d or --as-of 2026-12-01T00:00:00Z"
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if s[0] == '+' || s[0] == '-' {
		d, err := config.ParseDuration(s)
		if err != nil {
			return time.Time{}, &InputError{Err: fmt.Errorf("--as-of: %w", err), Hint: hint}
		}
		return base.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, inputError(hint, "--as-of: invalid time %q", s)
}
