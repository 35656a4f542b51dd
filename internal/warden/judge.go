package warden

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Judgment is one user judged from a live per-user read.
type Judgment struct {
	AccountID string `json:"account_id"`
	UserName  string `json:"user_name"`
	// UserID is the live user's ID; empty when the user is gone.
	UserID string `json:"user_id,omitempty"`
	// Gone: the user no longer exists. Replaced: a user of that name exists with another ID
	// than the one asked about (the person the event or schedule was about is gone).
	Gone     bool            `json:"gone,omitempty"`
	Replaced bool            `json:"replaced,omitempty"`
	Findings []rules.Finding `json:"findings"`
	// NotJudged lists the rules a one-user read cannot judge: they need the whole account (its
	// policies), and the next sweep judges them.
	NotJudged []string `json:"not_judged,omitempty"`

	user *inventory.User
}

// ConsoleDeadline returns the pending console-mfa-missing finding, if the user is in its grace
// period.
func (j *Judgment) ConsoleDeadline() (rules.Finding, bool) {
	for _, f := range j.Findings {
		if f.Rule == "console-mfa-missing" && f.State == rules.StatePending && f.Deadline != nil {
			return f, true
		}
	}
	return rules.Finding{}, false
}

// ConsoleViolation reports whether the user has a console password, no MFA device, and no
// grace period left.
func (j *Judgment) ConsoleViolation() bool {
	for _, f := range j.Findings {
		if f.Rule == "console-mfa-missing" && f.State == rules.StateViolation {
			return true
		}
	}
	return false
}

// accountRules need the account's policies, which a per-user read does not hold.
var accountRules = map[string]bool{"mfa-not-enforced": true}

// JudgeUser reads one user live with per-user calls (never the credential report, which can be
// hours old) and judges it with the settings' user rules and exemptions. A userID, when given,
// must be the live user's: else the judgment says Replaced and holds no findings.
func (w *Warden) JudgeUser(ctx context.Context, name, userID string) (*Judgment, error) {
	caller, err := w.Caller(ctx)
	if err != nil {
		return nil, err
	}
	j := &Judgment{AccountID: awsapi.ARNAccount(caller), UserName: name, Findings: []rules.Finding{}}
	u, err := remediate.ReadUser(ctx, w.Clients.IAM, name)
	if errors.Is(err, remediate.ErrUserGone) {
		j.Gone = true
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", name, err)
	}
	j.UserID, j.user = u.ID, u
	if userID != "" && u.ID != userID {
		j.Replaced = true
		return j, nil
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return nil, err
	}
	var judged []rules.Rule
	for _, r := range w.Settings.Rules {
		switch {
		case r.Root:
		case accountRules[r.ID]:
			j.NotJudged = append(j.NotJudged, r.ID)
		default:
			judged = append(judged, r)
		}
	}
	grants, _, err := w.graceGrants(ctx, j.AccountID)
	if err != nil {
		return nil, err
	}
	env := rules.Env{AsOf: w.now().UTC(), Thresholds: w.Settings.Thresholds, GraceGrants: grants}
	if fs := rules.Evaluate(env, j.AccountID, u, judged, exempter); fs != nil {
		j.Findings = fs
	}
	return j, nil
}

// EnforceUser judges one user live and runs the plan of its findings through the same executor,
// guards and journal as an account run (dry unless o.Apply). A user gone or replaced since the
// event or schedule is left alone.
func (w *Warden) EnforceUser(ctx context.Context, name, userID string, o EnforceOptions) (*EnforceResult, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	j, err := w.JudgeUser(ctx, name, userID)
	if err != nil {
		return nil, err
	}
	out := &EnforceResult{Judgment: j, Plan: remediate.BuildPlan(j.AccountID, "", j.Findings, w.Settings.Remediations)}
	if j.Gone || j.Replaced {
		return out, nil
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return out, err
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return out, err
	}
	return w.run(ctx, w.executor(caller, "", exempter, o), out, o)
}

// ReportPlan tells the settings' topic what an enforce run would do, once per distinct plan:
// what a report-only deployment says of violations.
func (w *Warden) ReportPlan(ctx context.Context, plan remediate.Plan) (bool, error) {
	if w.Journal == nil {
		return false, ErrNoJournal
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return false, err
	}
	return w.executor(caller, plan.AccountAlias, nil, EnforceOptions{}).ReportPlan(ctx, plan)
}

// Warn sends the grace-period warnings of a plan (deduplicated in the journal) without acting:
// what a report-only deployment tells users.
func (w *Warden) Warn(ctx context.Context, plan remediate.Plan) ([]remediate.Warning, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	caller, err := w.Caller(ctx)
	if err != nil {
		return nil, err
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return nil, err
	}
	return w.executor(caller, "", exempter, EnforceOptions{Apply: true}).Warn(ctx, plan)
}
