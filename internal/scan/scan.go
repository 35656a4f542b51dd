// Package scan judges a snapshot of an account with the rules and produces a report.Result. It
// is the one place the CLI and the Lambda call to audit an account.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iamwarden/iamwarden/internal/access"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Options says how to judge.
type Options struct {
	// AsOf is the instant to judge at; zero means the snapshot's read time.
	AsOf       time.Time
	Rules      []rules.Rule
	Thresholds rules.Thresholds
	Exempter   rules.Exempter
	// Warnings are carried into the result (e.g. unusable exemption tags).
	Warnings []inventory.Problem
	// Now is the clock for GeneratedAt.
	Now func() time.Time
	Log *slog.Logger
	// Concurrency bounds the per-user lookups in flight; DefaultConcurrency when zero or less.
	// The result does not depend on it, nor on the order the lookups complete in.
	Concurrency int
	// Progress, when set, is told how many of a step's per-user lookups are done. It is called
	// from one goroutine at a time.
	Progress func(step Step, done, total int)
	// GraceGrants are the grace periods granted to users who removed their last MFA device.
	GraceGrants map[string]rules.GraceGrant
}

// DefaultConcurrency is the number of per-user lookups in flight by default.
const DefaultConcurrency = 8

// Step names a per-user lookup step for Progress.
type Step string

const (
	StepLoginProfiles Step = "login profiles"
	StepAccessKeys    Step = "access keys"
)

// Live answers the per-user questions the credential report cannot. It is nil for exports, in
// which case the export's recorded answers are asked instead (snap.Recorded), at the same points:
// an answer the export does not hold (inventory.ErrNotRecorded) leaves the report's data as it is
// (access keys named by slot, grace periods from the last password change).
type Live interface {
	LoginProfileCreated(ctx context.Context, user string) (time.Time, bool, error)
	AccessKeys(ctx context.Context, user string) ([]inventory.AccessKeyMeta, error)
	AccessKeyLastUsed(ctx context.Context, keyID string) (inventory.AccessKeyLastUse, error)
}

// Run judges snap. Per-user lookups that fail make the result partial; they never turn into a
// guess.
func Run(ctx context.Context, snap *inventory.Snapshot, opts Options, live Live) (*report.Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Progress == nil {
		opts.Progress = func(Step, int, int) {}
	}
	asOf := opts.AsOf
	if asOf.IsZero() {
		asOf = snap.ReadAt
	}
	if asOf.IsZero() {
		return nil, fmt.Errorf("no instant to judge at: the data has no read time; pass --as-of")
	}
	if live == nil && snap.Recorded != nil {
		live = snap.Recorded
	}
	env := rules.Env{AsOf: asOf, Thresholds: opts.Thresholds, GraceGrants: opts.GraceGrants}
	res := &report.Result{
		AccountID:    snap.AccountID,
		AccountAlias: snap.AccountAlias,
		GeneratedAt:  opts.Now().UTC().Truncate(time.Second),
		AsOf:         asOf.UTC(),
		DataReadAt:   snap.ReadAt.UTC(),
		Source:       snap.Source,
		Errors:       slices.Clone(snap.Problems),
		Findings:     []rules.Finding{},
	}
	if !snap.ReportGeneratedAt.IsZero() {
		t := snap.ReportGeneratedAt.UTC()
		res.ReportAt = &t
	}
	if live != nil && ruleOn(opts.Rules, "console-mfa-missing") {
		res.Errors = append(res.Errors, readGraceProfiles(ctx, snap, env, live, opts)...)
	}
	if ruleOn(opts.Rules, "mfa-not-enforced") {
		r := access.NewResolver(snap)
		env.Policies = r
		env.SCPsNotEvaluated = r.SCPsNotEvaluated()
		if why := env.SCPsNotEvaluated; why != "" {
			opts.Warnings = append(slices.Clone(opts.Warnings), inventory.Problem{Where: "organizations",
				Message: "SCPs not evaluated (" + why + "): mfa-not-enforced judged the identity policies and boundaries only, and its findings say so"})
		}
		res.Errors = append(res.Errors, unresolvedPolicies(snap, r)...)
	}
	principals := snap.Principals()
	byPrincipal := make([][]rules.Finding, len(principals))
	for i, p := range principals {
		byPrincipal[i] = rules.Evaluate(env, snap.AccountID, p, opts.Rules, opts.Exempter)
	}
	if live != nil {
		named, probs := nameKeys(ctx, principals, byPrincipal, live, opts)
		res.Errors = append(res.Errors, probs...)
		// Judge the users whose keys were listed again, so that details and finding IDs name
		// the keys.
		for _, i := range named {
			byPrincipal[i] = rules.Evaluate(env, snap.AccountID, principals[i], opts.Rules, opts.Exempter)
		}
	}
	n := 0
	for _, fs := range byPrincipal {
		n += len(fs)
	}
	res.Findings = make([]rules.Finding, 0, n)
	for i, fs := range byPrincipal {
		res.Findings = append(res.Findings, fs...)
		byPrincipal[i] = nil
	}
	res.Partial = len(res.Errors) > 0
	if res.Errors == nil {
		res.Errors = []inventory.Problem{}
	}
	res.Warnings = append([]inventory.Problem{}, opts.Warnings...)
	res.Warnings = append(res.Warnings, rootNotJudged(snap, opts.Rules)...)
	res.Count(len(snap.Users))
	return res, nil
}

// unresolvedPolicies names the users with credentials whose policies cannot all be read: their
// MFA enforcement cannot be judged, so the result is partial rather than silently passing them.
func unresolvedPolicies(snap *inventory.Snapshot, r *access.Resolver) []inventory.Problem {
	var probs []inventory.Problem
	for i := range snap.Users {
		u := &snap.Users[i]
		if !u.Password.Enabled && !slices.ContainsFunc(u.AccessKeys, func(k inventory.AccessKey) bool { return k.Active }) {
			continue
		}
		if _, err := r.PolicySet(u); err != nil {
			probs = append(probs, inventory.Problem{Where: "policies of " + u.Name, Principal: u.Name,
				Message: "MFA enforcement not judged: " + err.Error()})
		}
	}
	return probs
}

// rootNotJudged lists the root rules the data cannot decide: without root's credential report
// row, the rules that need it; without the account summary either, every root rule. They are
// warnings, not errors: nothing failed to be read, the source holds no more (moto's reports have
// no root row), and the result says so instead of passing root silently.
func rootNotJudged(snap *inventory.Snapshot, rs []rules.Rule) []inventory.Problem {
	if snap.Root != nil && snap.Root.RootSummary == nil {
		return nil
	}
	var ids []string
	for _, r := range rs {
		if r.Root && (snap.Root == nil || r.NeedsRootRow) {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	why := "the credential report has no root row; root's MFA and access key are judged from the account summary (iam:GetAccountSummary)"
	if snap.Root == nil {
		why = "the credential report has no root row and no account summary says whether root has MFA or an access key"
	}
	return []inventory.Problem{{Where: "credential report", Principal: inventory.RootName,
		Message: strings.Join(ids, ", ") + " not judged: " + why}}
}

func ruleOn(rs []rules.Rule, id string) bool {
	return slices.ContainsFunc(rs, func(r rules.Rule) bool { return r.ID == id })
}

// readGraceProfiles reads the login profile creation time of console users without MFA whose
// password was last set inside the grace window. For them the report alone cannot tell: a
// password changed yesterday may belong to a login profile created a year ago. It can when the
// user was created in the same second as the password was set: the login profile, which cannot
// predate its user, was created then.
func readGraceProfiles(ctx context.Context, snap *inventory.Snapshot, env rules.Env, live Live, opts Options) []inventory.Problem {
	var need []int
	for i := range snap.Users {
		if profileNeeded(&snap.Users[i], env) {
			need = append(need, i)
		}
	}
	type answer struct {
		created time.Time
		ok      bool
		err     error
	}
	answers := make([]answer, len(need))
	forEach(len(need), opts.Concurrency, func(done int) { opts.Progress(StepLoginProfiles, done, len(need)) }, func(j int) {
		a := &answers[j]
		a.created, a.ok, a.err = live.LoginProfileCreated(ctx, snap.Users[need[j]].Name)
	})
	var probs []inventory.Problem
	for j, i := range need {
		u, a := &snap.Users[i], answers[j]
		switch {
		case errors.Is(a.err, inventory.ErrNotRecorded):
			// An export without the answer: the report's last change stands.
		case a.err != nil:
			u.Incomplete = true
			probs = append(probs, inventory.Problem{Where: "iam:GetLoginProfile", Principal: u.Name, Message: a.err.Error()})
		case !a.ok:
			// The password was removed after the report was generated.
			opts.Log.Info("login profile gone since the credential report", "user", u.Name)
			u.Password.Enabled = false
		default:
			u.Password.ProfileCreated = a.created
		}
	}
	return probs
}

// profileNeeded reports whether u's verdict or deadline under console-mfa-missing depends on
// when its login profile was created, which the report does not say.
func profileNeeded(u *inventory.User, env rules.Env) bool {
	pw := u.Password
	if !pw.Enabled || u.MFA.Active || u.Incomplete || pw.LastChanged.IsZero() || !pw.ProfileCreated.IsZero() {
		return false
	}
	if env.AsOf.Sub(pw.LastChanged) >= env.Thresholds.ConsoleMFAGrace {
		return false // past the grace period however early the profile was created
	}
	// The profile was created between the user's creation and the password's last change; the
	// report has both to the second.
	return u.Created.IsZero() || !u.Created.Truncate(time.Second).Equal(pw.LastChanged.Truncate(time.Second))
}

// nameKeys fills in the access key IDs of the users that have key findings, or findings of rules
// whose details name keys (Rule.NamesKeys): the credential report only has slots. Each affected user's keys are listed once and matched to slots by
// creation second and status (inventory.NameAccessKeys); the last use of keys still alike is
// read, one call per key, to tell them apart. A key the evidence does not pin down stays unnamed.
// It returns the indexes of the principals whose keys were listed.
func nameKeys(ctx context.Context, principals []*inventory.User, findings [][]rules.Finding, live Live, opts Options) ([]int, []inventory.Problem) {
	namesKeys := map[string]bool{}
	for _, r := range opts.Rules {
		namesKeys[r.ID] = r.NamesKeys
	}
	var need []int
	for i, fs := range findings {
		if principals[i].IsRoot {
			continue // root's keys cannot be listed by an IAM principal
		}
		if slices.ContainsFunc(fs, func(f rules.Finding) bool { return (f.Key != nil && f.Key.ID == "") || namesKeys[f.Rule] }) {
			need = append(need, i)
		}
	}
	type answer struct {
		listed bool
		probs  []inventory.Problem
	}
	answers := make([]answer, len(need))
	forEach(len(need), opts.Concurrency, func(done int) { opts.Progress(StepAccessKeys, done, len(need)) }, func(j int) {
		answers[j].listed, answers[j].probs = nameUserKeys(ctx, principals[need[j]], live)
	})
	var named []int
	var probs []inventory.Problem
	for j, i := range need {
		probs = append(probs, answers[j].probs...)
		if !answers[j].listed {
			continue
		}
		named = append(named, i)
		u := principals[i]
		for _, k := range u.AccessKeys {
			if k.Unmatched != nil {
				opts.Log.Warn("access key from the credential report not named", "user", u.Name, "slot", k.Slot,
					"reason", string(k.Unmatched.Reason), "candidates", maskAll(k.Unmatched.Candidates))
			}
		}
	}
	return named, probs
}

// nameUserKeys lists u's keys and names its report keys after them, reading the last use of keys
// still alike. It touches u only, so users can be named concurrently.
func nameUserKeys(ctx context.Context, u *inventory.User, live Live) (bool, []inventory.Problem) {
	metas, err := live.AccessKeys(ctx, u.Name)
	if errors.Is(err, inventory.ErrNotRecorded) {
		return false, nil // an export without the answer: keys stay named by slot
	}
	if err != nil {
		return false, []inventory.Problem{{Where: "iam:ListAccessKeys", Principal: u.Name, Message: err.Error()}}
	}
	metas = slices.Clone(metas)
	inventory.NameAccessKeys(u.AccessKeys, metas)
	ids := inventory.LastUseWanted(u.AccessKeys, metas)
	if len(ids) == 0 {
		return true, nil
	}
	var probs []inventory.Problem
	for j := range metas {
		if !slices.Contains(ids, metas[j].ID) {
			continue
		}
		lu, err := live.AccessKeyLastUsed(ctx, metas[j].ID)
		if errors.Is(err, inventory.ErrNotRecorded) {
			continue // an export without the answer: the keys may stay undecided
		}
		if err != nil {
			probs = append(probs, inventory.Problem{Where: "iam:GetAccessKeyLastUsed", Principal: u.Name,
				Message: fmt.Sprintf("access key %s: %v", rules.MaskKeyID(metas[j].ID), err)})
			continue
		}
		metas[j].LastUse = &lu
	}
	inventory.NameAccessKeys(u.AccessKeys, metas)
	return true, probs
}

// forEach calls fn(0) .. fn(n-1), at most width at a time, and returns when all have returned.
// After each call, progress is told how many are done; it is called by one goroutine at a time.
func forEach(n, width int, progress func(done int), fn func(i int)) {
	if n == 0 {
		return
	}
	next := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for range min(width, n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
				mu.Lock()
				done++
				progress(done)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func maskAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = rules.MaskKeyID(id)
	}
	return out
}
