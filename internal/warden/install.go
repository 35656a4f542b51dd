package warden

import (
	"context"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/remediate"
)

// InstallOptions say where to install the enforce-MFA policy and whom to put under it.
type InstallOptions struct {
	PolicyName string
	Group      string
	// AddConsoleUsers adds the console users without MFA (not exempt, not the caller) to the
	// group.
	AddConsoleUsers bool
	Apply           bool
	// Confirm, when set, is asked with the plan before anything is applied.
	Confirm     func(generate.InstallPlan) error
	LockTimeout time.Duration
}

// InstallEnforceMFA plans the enforce-MFA policy's installation (the managed policy, its
// default version, the group, the attachment, the members) and runs it through the executor's
// guards and journal (dry unless o.Apply).
func (w *Warden) InstallEnforceMFA(ctx context.Context, o InstallOptions) (*remediate.InstallOutcome, error) {
	if w.Journal == nil {
		return nil, ErrNoJournal
	}
	doc, err := generate.MarshalDocument(generate.EnforceMFA())
	if err != nil {
		return nil, err
	}
	exempter, err := w.Exempter(ctx)
	if err != nil {
		return nil, err
	}
	spec := generate.InstallSpec{PolicyName: o.PolicyName, Document: doc, Group: o.Group}
	caller := ""
	if o.AddConsoleUsers {
		snap, err := w.ReadAccount(ctx, false)
		if err != nil {
			return nil, err
		}
		if snap.Partial() {
			return nil, fmt.Errorf("the account could not be read completely (%s); refusing to pick users from partial data", snap.Problems[0].Message)
		}
		if caller, err = w.Caller(ctx); err != nil {
			return nil, err
		}
		spec.AccountID = snap.AccountID
		spec.Users, spec.Skipped = generate.ConsoleUsersWithoutMFA(snap, generate.SelectOptions{Exempter: exempter, CallerARN: caller, AsOf: w.now()})
	} else {
		if caller, err = w.Caller(ctx); err != nil {
			return nil, err
		}
		spec.AccountID = awsapi.ARNAccount(caller)
	}
	plan, err := generate.PlanInstall(ctx, w.Clients.IAM, spec)
	if err != nil {
		return nil, err
	}
	if o.Apply && o.Confirm != nil && len(plan.Steps) > 0 && len(plan.Steps) <= w.Settings.MaxActions {
		if err := o.Confirm(plan); err != nil {
			return nil, err
		}
	}
	return w.executor(caller, "", exempter, EnforceOptions{Apply: o.Apply, LockTimeout: o.LockTimeout}).ApplyInstall(ctx, plan)
}
