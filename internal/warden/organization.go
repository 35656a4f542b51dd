package warden

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

// Organization runs the use cases over the accounts of an AWS Organization: the same
// per-account unit of work as a one-account run, in each account through its member role. The
// organization's SCPs are read, the notifications sent and the journal written with the
// caller's own credentials.
type Organization struct {
	// Base is the caller's configuration (the management or delegated administrator account).
	Base     aws.Config
	Roles    *org.Roles
	Settings *Settings
	Journal  journal.Journal
	// SecurityHub, when set, is where each account's Security Hub import is remembered: every
	// audited account's findings are imported into its own Security Hub through its role.
	SecurityHub securityhub.StateStore
	// History, when set, records each account's audit or enforce run in the history of Journal
	// as the account finishes.
	History *Recorder
	Now     func() time.Time
	Log     *slog.Logger

	readsOnce sync.Once
	reads     *orgReads
}

// MemberRole says how an organization's member accounts are reached.
type MemberRole struct {
	Name, ExternalID string
	// SessionName names the sessions in the members' CloudTrail; it starts with "iamwarden".
	SessionName string
}

// NewOrganization reaches the organization from the caller's own account (its management or a
// delegated administrator account: w's clients, settings, journal, clock and logger) through the
// member role.
func NewOrganization(ctx context.Context, w *Warden, role MemberRole) (*Organization, error) {
	caller, err := w.Caller(ctx)
	if err != nil {
		return nil, err
	}
	cfg := w.Clients.Config
	roles := &org.Roles{Base: cfg, RoleName: role.Name, ExternalID: role.ExternalID, SessionName: role.SessionName,
		CallerAccount: awsapi.ARNAccount(caller)}
	return &Organization{Base: cfg, Roles: roles, Settings: w.Settings, Journal: w.Journal, Now: w.Now, Log: w.Log}, nil
}

// Accounts lists the organization's ACTIVE accounts that sel selects.
func (o *Organization) Accounts(ctx context.Context, sel org.Selector) ([]org.Account, error) {
	return org.List(ctx, organizations.NewFromConfig(o.Base), sel)
}

// Account returns the use cases of one account of the organization.
func (o *Organization) Account(ctx context.Context, accountID string) (*Warden, error) {
	cfg, err := o.Roles.Assume(ctx, accountID)
	if err != nil {
		return nil, err
	}
	// Throttling the SDK's retries absorbed still slows the fan-out down.
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), org.ThrottleReporter)
	c := Connect(cfg)
	o.readsOnce.Do(func() { o.reads = newOrgReads(organizations.NewFromConfig(o.Base)) })
	c.Org = o.reads
	c.SNS = sns.NewFromConfig(o.Base)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Warden{Clients: c, Settings: o.Settings, Journal: o.Journal, Now: o.Now, Log: log.With("account", accountID)}, nil
}

// AccountAudit is one account's audit, or why there is none.
func (o *Organization) AccountAudit(ctx context.Context, a org.Account, opts AuditOptions) report.AccountResult {
	out := report.AccountResult{AccountID: a.ID, AccountName: a.Name, Status: report.AccountFailed}
	w, err := o.Account(ctx, a.ID)
	var snap *inventory.Snapshot
	if err == nil {
		out.Result, snap, err = w.AuditSnapshot(ctx, opts)
	}
	switch {
	case err != nil:
		out.Error = err.Error()
		return out
	case out.Result.Partial:
		out.Status, out.Error = report.AccountPartial, problems(out.Result)
	default:
		out.Status = report.AccountOK
	}
	o.History.record(ctx, w, out.Result, nil, nil)
	if o.SecurityHub != nil {
		rep, err := w.ImportToSecurityHub(ctx, out.Result, snap, o.SecurityHub)
		out.SecurityHub = ImportSummary(rep)
		if err != nil || len(rep.Failed) > 0 {
			msg := fmt.Sprintf("security hub: %d findings not imported", len(rep.Failed))
			if err != nil {
				msg = "security hub: " + err.Error()
			}
			if out.Error != "" {
				msg = out.Error + "; " + msg
			}
			out.Status, out.Error = report.AccountPartial, msg
		}
	}
	return out
}

func problems(r *report.Result) string {
	var s string
	for i, p := range r.Errors {
		if i > 0 {
			s += "; "
		}
		s += p.Where + ": " + p.Message
		if i == 2 && len(r.Errors) > 3 {
			return s + fmt.Sprintf("; and %d more", len(r.Errors)-3)
		}
	}
	return s
}

// Audit audits every account, concurrency at a time, and hands each result to emit as it
// finishes (from one goroutine at a time), so results are never all held.
func (o *Organization) Audit(ctx context.Context, accounts []org.Account, concurrency int, opts AuditOptions,
	emit func(report.AccountResult) error, progress func(org.Progress)) error {
	results := emitter[report.AccountResult]{emit: emit, sent: map[string]bool{}}
	failures := org.Each(ctx, accounts, concurrency, func(ctx context.Context, a org.Account) error {
		r := o.AccountAudit(ctx, a, opts)
		results.send(a.ID, r)
		if r.Status == report.AccountFailed {
			return errors.New(r.Error)
		}
		return nil
	}, progress)
	for _, f := range results.missing(failures) {
		results.send(f.Account.ID, report.AccountResult{AccountID: f.Account.ID, AccountName: f.Account.Name, Status: report.AccountFailed, Error: f.Err.Error()})
	}
	return results.err
}

// emitter hands a fan-out's results to emit one at a time and remembers which accounts it
// handed, so that an account whose unit panicked or never started is listed too, failed with
// the reason. The first error of emit stops further results.
type emitter[T any] struct {
	mu   sync.Mutex
	emit func(T) error
	sent map[string]bool
	err  error
}

func (e *emitter[T]) send(account string, r T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sent[account] = true
	if e.err == nil {
		e.err = e.emit(r)
	}
}

// missing are the failures of accounts no result was sent for.
func (e *emitter[T]) missing(failures []org.Failure) []org.Failure {
	var out []org.Failure
	for _, f := range failures {
		if !e.sent[f.Account.ID] {
			out = append(out, f)
		}
	}
	return out
}

// AccountPlan is one account's enforcement plan, from a dry audit.
type AccountPlan struct {
	Account org.Account
	Scan    report.AccountResult
	Plan    remediate.Plan
}

// OrgEnforceOptions say how to enforce over an organization.
type OrgEnforceOptions struct {
	Apply bool
	// MaxActionsTotal refuses the whole run when the accounts' plans add up to more changes;
	// each account's own plan is still bounded by the settings' MaxActions.
	MaxActionsTotal int
	// Confirm, when set and applying, is asked once every plan is known: the number of accounts
	// with changes and of changes.
	Confirm     func(accounts, changes int) error
	LockTimeout time.Duration
	Concurrency int
}

// AccountEnforcement is one account's part of an organization enforce run.
type AccountEnforcement struct {
	AccountID   string               `json:"account_id"`
	AccountName string               `json:"account_name"`
	Status      report.AccountStatus `json:"status"`
	Error       string               `json:"error,omitempty"`
	Plan        *remediate.Plan      `json:"plan,omitempty"`
	Outcome     *remediate.Outcome   `json:"outcome,omitempty"`
}

// ErrOrgBlastRadius: the accounts' plans together exceed MaxActionsTotal; nothing was changed.
var ErrOrgBlastRadius = errors.New("the organization's plans exceed the total blast-radius limit")

// Enforce audits every account and plans its remediations, refuses the whole run when the
// plans exceed MaxActionsTotal, asks for confirmation, then runs each account's plan through
// its own executor: its lease, its blast radius, its deny list, its journal entries. One
// account's failure never stops the others. Results are handed to emit as accounts finish.
func (o *Organization) Enforce(ctx context.Context, accounts []org.Account, opts OrgEnforceOptions,
	emit func(AccountEnforcement) error, progress func(org.Progress)) error {
	type planned struct {
		account org.Account
		w       *Warden
		res     *report.Result
		plan    remediate.Plan
	}
	var (
		mu      sync.Mutex
		plans   []planned
		failed  []AccountEnforcement
		changes int
	)
	done := map[string]bool{}
	failures := org.Each(ctx, accounts, opts.Concurrency, func(ctx context.Context, a org.Account) error {
		w, err := o.Account(ctx, a.ID)
		var res *report.Result
		if err == nil {
			res, err = w.Audit(ctx, AuditOptions{})
		}
		mu.Lock()
		defer mu.Unlock()
		done[a.ID] = true
		if err != nil {
			failed = append(failed, AccountEnforcement{AccountID: a.ID, AccountName: a.Name, Status: report.AccountFailed, Error: err.Error()})
			return err
		}
		p := remediate.BuildPlan(res.AccountID, res.AccountAlias, res.Findings, o.Settings.Remediations)
		if res.Partial {
			// A plan from partial data could miss an exemption: the account is reported, not acted on.
			failed = append(failed, AccountEnforcement{AccountID: a.ID, AccountName: a.Name, Status: report.AccountPartial,
				Error: "not enforced: the account could not be read completely: " + problems(res), Plan: &p})
			o.History.record(ctx, w, res, &p, &remediate.Outcome{DryRun: !opts.Apply}) // nothing done
			return nil
		}
		plans = append(plans, planned{account: a, w: w, res: res, plan: p})
		changes += p.Changes()
		return nil
	}, nil)
	for _, f := range failures {
		if !done[f.Account.ID] {
			failed = append(failed, AccountEnforcement{AccountID: f.Account.ID, AccountName: f.Account.Name, Status: report.AccountFailed, Error: f.Err.Error()})
		}
	}
	for _, f := range failed {
		if err := emit(f); err != nil {
			return err
		}
	}
	if opts.MaxActionsTotal > 0 && changes > opts.MaxActionsTotal {
		return fmt.Errorf("%w: %d changes planned in %d accounts, limit %d; nothing was changed (raise --max-actions-total after checking the plans)",
			ErrOrgBlastRadius, changes, len(plans), opts.MaxActionsTotal)
	}
	withChanges := 0
	for _, p := range plans {
		if p.plan.Changes() > 0 {
			withChanges++
		}
	}
	if opts.Apply && opts.Confirm != nil && changes > 0 {
		if err := opts.Confirm(withChanges, changes); err != nil {
			return err
		}
	}
	byID := make(map[string]planned, len(plans))
	run := make([]org.Account, 0, len(plans))
	for _, p := range plans {
		byID[p.account.ID] = p
		run = append(run, p.account)
	}
	results := emitter[AccountEnforcement]{emit: emit, sent: map[string]bool{}}
	failures = org.Each(ctx, run, opts.Concurrency, func(ctx context.Context, a org.Account) error {
		p := byID[a.ID]
		out, err := p.w.RunPlan(ctx, p.plan, EnforceOptions{Apply: opts.Apply, LockTimeout: opts.LockTimeout})
		if out != nil {
			o.History.record(ctx, p.w, p.res, &p.plan, out)
		}
		r := AccountEnforcement{AccountID: a.ID, AccountName: a.Name, Status: report.AccountOK, Plan: &p.plan, Outcome: out}
		if err != nil {
			r.Status, r.Error = report.AccountFailed, err.Error()
		}
		results.send(a.ID, r)
		return err
	}, progress)
	for _, f := range results.missing(failures) {
		p := byID[f.Account.ID]
		results.send(f.Account.ID, AccountEnforcement{AccountID: f.Account.ID, AccountName: f.Account.Name, Status: report.AccountFailed, Error: f.Err.Error(), Plan: &p.plan})
	}
	return results.err
}

// Export exports every account to dir/<account ID>, concurrency at a time, handing each
// export to emit as it finishes (from one goroutine at a time); the accounts that failed are
// returned.
func (o *Organization) Export(ctx context.Context, accounts []org.Account, dir string, concurrency int,
	emit func(a org.Account, dir string, raw inventory.Raw), progress func(org.Progress)) []org.Failure {
	var mu sync.Mutex
	return org.Each(ctx, accounts, concurrency, func(ctx context.Context, a org.Account) error {
		w, err := o.Account(ctx, a.ID)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, a.ID)
		raw, err := w.Export(ctx, out)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		emit(a, out, raw)
		return nil
	}, progress)
}
