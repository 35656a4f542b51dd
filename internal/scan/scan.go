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
}

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
	env := rules.Env{AsOf: asOf, Thresholds: opts.Thresholds}
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
		res.Errors = append(res.Errors, readGraceProfiles(ctx, snap, env, live, opts.Log)...)
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
	res.Findings = evaluate(env, snap, opts)
	if live != nil {
		res.Errors = append(res.Errors, nameKeys(ctx, snap, res.Findings, opts.Rules, live, opts.Log)...)
		// Judge again so that details and finding IDs name the keys.
		res.Findings = evaluate(env, snap, opts)
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

func evaluate(env rules.Env, snap *inventory.Snapshot, opts Options) []rules.Finding {
	out := []rules.Finding{}
	for _, p := range snap.Principals() {
		out = append(out, rules.Evaluate(env, snap.AccountID, p, opts.Rules, opts.Exempter)...)
	}
	return out
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
// password changed yesterday may belong to a login profile created a year ago.
func readGraceProfiles(ctx context.Context, snap *inventory.Snapshot, env rules.Env, live Live, log *slog.Logger) []inventory.Problem {
	var probs []inventory.Problem
	for i := range snap.Users {
		u := &snap.Users[i]
		pw := u.Password
		if !pw.Enabled || u.MFA.Active || pw.LastChanged.IsZero() || !pw.ProfileCreated.IsZero() {
			continue
		}
		if env.AsOf.Sub(pw.LastChanged) >= env.Thresholds.ConsoleMFAGrace {
			continue
		}
		created, ok, err := live.LoginProfileCreated(ctx, u.Name)
		if errors.Is(err, inventory.ErrNotRecorded) {
			continue
		}
		if err != nil {
			u.Incomplete = true
			probs = append(probs, inventory.Problem{Where: "iam:GetLoginProfile", Principal: u.Name, Message: err.Error()})
			continue
		}
		if !ok {
			// The password was removed after the report was generated.
			log.Info("login profile gone since the credential report", "user", u.Name)
			u.Password.Enabled = false
			continue
		}
		u.Password.ProfileCreated = created
	}
	return probs
}

// nameKeys fills in the access key IDs of the users that have key findings, or findings of rules
// whose details name keys (Rule.NamesKeys): the credential report only has slots. Each affected user's keys are listed once and matched to slots by
// creation second and status (inventory.NameAccessKeys); the last use of keys still alike is
// read, one call per key, to tell them apart. A key the evidence does not pin down stays unnamed.
func nameKeys(ctx context.Context, snap *inventory.Snapshot, fs []rules.Finding, rs []rules.Rule, live Live, log *slog.Logger) []inventory.Problem {
	namesKeys := map[string]bool{}
	for _, r := range rs {
		namesKeys[r.ID] = r.NamesKeys
	}
	need := map[string]bool{}
	for _, f := range fs {
		if f.Principal == inventory.RootName {
			continue // root's keys cannot be listed by an IAM principal
		}
		if (f.Key != nil && f.Key.ID == "") || namesKeys[f.Rule] {
			need[f.Principal] = true
		}
	}
	var probs []inventory.Problem
	for i := range snap.Users {
		u := &snap.Users[i]
		if !need[u.Name] {
			continue
		}
		metas, err := live.AccessKeys(ctx, u.Name)
		if errors.Is(err, inventory.ErrNotRecorded) {
			continue
		}
		if err != nil {
			probs = append(probs, inventory.Problem{Where: "iam:ListAccessKeys", Principal: u.Name, Message: err.Error()})
			continue
		}
		metas = slices.Clone(metas)
		inventory.NameAccessKeys(u.AccessKeys, metas)
		if ids := inventory.LastUseWanted(u.AccessKeys, metas); len(ids) > 0 {
			for j := range metas {
				if !slices.Contains(ids, metas[j].ID) {
					continue
				}
				lu, err := live.AccessKeyLastUsed(ctx, metas[j].ID)
				if errors.Is(err, inventory.ErrNotRecorded) {
					continue
				}
				if err != nil {
					probs = append(probs, inventory.Problem{Where: "iam:GetAccessKeyLastUsed", Principal: u.Name,
						Message: fmt.Sprintf("access key %s: %v", rules.MaskKeyID(metas[j].ID), err)})
					continue
				}
				metas[j].LastUse = &lu
			}
			inventory.NameAccessKeys(u.AccessKeys, metas)
		}
		for _, k := range u.AccessKeys {
			if k.Unmatched != nil {
				log.Warn("access key from the credential report not named", "user", u.Name, "slot", k.Slot,
					"reason", string(k.Unmatched.Reason), "candidates", maskAll(k.Unmatched.Candidates))
			}
		}
	}
	return probs
}

func maskAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = rules.MaskKeyID(id)
	}
	return out
}
