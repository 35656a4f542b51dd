package remediate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
)

// InstallOutcome is one 'policy apply' run: the plan, each step's status in it, and the run.
type InstallOutcome struct {
	RunID  string               `json:"run_id"`
	DryRun bool                 `json:"dry_run"`
	Plan   generate.InstallPlan `json:"plan"`
	// Reconciled are intents left open by an earlier crash and settled by this run.
	Reconciled []journal.Entry `json:"reconciled"`
	// Refused says why the whole plan was refused before anything was attempted: nothing was
	// changed.
	Refused string `json:"refused,omitempty"`
	// Stopped says why the run stopped before the end of the plan, when it did.
	Stopped string `json:"stopped,omitempty"`
}

// Count returns how many steps have the status (generate.StepDone, ...).
func (o *InstallOutcome) Count(status string) int {
	n := 0
	for _, s := range o.Plan.Steps {
		if s.Status == status {
			n++
		}
	}
	return n
}

// Changed reports whether the run changed anything in the account.
func (o *InstallOutcome) Changed() bool { return o.Count(generate.StepDone) > 0 }

// ApplyInstall carries out an installation plan of 'policy apply' with enforce's guards: a plan
// for another account or a denied one, or with more steps than MaxActions, is refused whole. The
// journal is checked (in a dry run too); with changes to make, the account's lease is taken and
// interrupted intents are reconciled first.
//
// Adding a user to the group (KindAddToGroup) and making the new document the policy's default
// version (KindSetPolicyVersion) are journaled with their undo. Before it is added, each user is
// read again: a user gone, replaced, exempt, with MFA or without a console password since the
// plan is skipped, as is the caller. The new version is created as a non-default version, then
// made the default under a journal entry naming both versions. Creating the policy or the group,
// attaching the policy and deleting the oldest version to make room are not journaled and cannot
// be undone. A failed membership change is recorded and the run goes on; a failure of any other
// step stops it, since the steps after it depend on it. The returned error is a refusal or a
// systemic failure; the outcome says what was done either way.
//
// Exempter and Now are used to re-check users; Rules and Thresholds are not.
func (e *Executor) ApplyInstall(ctx context.Context, p generate.InstallPlan) (*InstallOutcome, error) {
	runID, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	out := &InstallOutcome{RunID: runID, DryRun: e.DryRun, Plan: p, Reconciled: []journal.Entry{}}
	out.Plan.Steps = slices.Clone(p.Steps)
	if err := e.preflight(ctx, e.refuseInstall(p)); err != nil {
		out.Refused = err.Error()
		return out, err
	}
	if e.DryRun || len(p.Steps) == 0 {
		return out, nil
	}
	h, err := e.acquire(ctx, p.AccountID, runID)
	if err != nil {
		out.Refused = err.Error()
		return out, err
	}
	defer e.release(h)
	if out.Reconciled, err = e.Reconcile(ctx, p.AccountID); err != nil {
		out.Stopped = err.Error()
		return out, err
	}
	for i := range out.Plan.Steps {
		s := &out.Plan.Steps[i]
		var err error
		switch s.Call {
		case generate.CallAddUserToGroup:
			err = e.addToGroup(ctx, h, runID, &out.Plan, s)
		case generate.CallCreatePolicyVersion:
			err = e.setPolicyVersion(ctx, h, runID, &out.Plan, s)
		default:
			err = e.installStep(ctx, h, &out.Plan, s)
		}
		if err != nil || (s.Status == generate.StepFailed && s.Call != generate.CallAddUserToGroup) {
			if err != nil {
				out.Stopped = err.Error()
			} else {
				out.Stopped = s.Call + " " + s.Target + " failed; the steps after it were not attempted"
			}
			return out, err
		}
	}
	return out, nil
}

// refuseInstall applies the guards that refuse a whole installation plan.
func (e *Executor) refuseInstall(p generate.InstallPlan) error {
	if slices.Contains(e.DenyAccounts, p.AccountID) {
		return fmt.Errorf("%w: %s; nothing was changed", ErrDeniedAccount, p.AccountID)
	}
	if err := e.checkAccount(p.AccountID, "the plan"); err != nil {
		return err
	}
	if e.MaxActions > 0 && len(p.Steps) > e.MaxActions {
		return fmt.Errorf("%w: %d changes planned, limit %d; nothing was changed (raise --max-actions after checking the plan)",
			ErrBlastRadius, len(p.Steps), e.MaxActions)
	}
	return nil
}

// stepFailed records a failed call; the returned error is non-nil when the run must stop.
func stepFailed(ctx context.Context, s *generate.Step, err error) error {
	s.Status, s.Error = generate.StepFailed, err.Error()
	if systemic(ctx, err) {
		return fmt.Errorf("%s %s: %w", s.Call, s.Target, err)
	}
	return nil
}

// installStep makes one of the calls that are not journaled.
func (e *Executor) installStep(ctx context.Context, h *journal.Lease, p *generate.InstallPlan, s *generate.Step) error {
	actx, cancel, err := e.renew(ctx, h)
	if err != nil {
		s.Status, s.Error = generate.StepSkipped, err.Error()
		return err
	}
	defer cancel()
	switch s.Call {
	case generate.CallCreatePolicy:
		_, err = e.IAM.CreatePolicy(actx, p.CreatePolicyInput())
	case generate.CallDeletePolicyVersion:
		_, err = e.IAM.DeletePolicyVersion(actx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(p.PolicyARN), VersionId: aws.String(s.Version)})
	case generate.CallCreateGroup:
		_, err = e.IAM.CreateGroup(actx, &iam.CreateGroupInput{GroupName: aws.String(p.Group)})
	case generate.CallAttachGroupPolicy:
		_, err = e.IAM.AttachGroupPolicy(actx, &iam.AttachGroupPolicyInput{GroupName: aws.String(p.Group), PolicyArn: aws.String(p.PolicyARN)})
	default:
		err = fmt.Errorf("unknown step %s", s.Call)
	}
	if err != nil {
		return stepFailed(ctx, s, err)
	}
	s.Status = generate.StepDone
	return nil
}

// change journals one change: the intent, the call, the result. skip is non-empty when another
// run claimed the same change first (nothing was done). The returned error is systemic.
func (e *Executor) change(ctx context.Context, entry journal.Entry, s *generate.Step, act func() error) (skip string, err error) {
	prev, _, err := journal.LastApplied(ctx, e.Journal, entry)
	if err != nil {
		s.Status, s.Error = generate.StepFailed, err.Error()
		return "", err
	}
	entry.DedupeKey = journal.ChangeKey(entry, prev.ActionID)
	if err := e.Journal.Begin(ctx, entry); err != nil {
		if errors.Is(err, journal.ErrExists) {
			s.Status, s.Detail = generate.StepSkipped, "another run is making or made this change"
			return s.Detail, nil
		}
		s.Status, s.Error = generate.StepFailed, "journal: "+err.Error()
		return "", fmt.Errorf("journal intent: %w", err)
	}
	s.ActionID = entry.ActionID
	actErr := act()
	status, detail := journal.StatusDone, s.Detail
	if actErr != nil {
		status, detail = journal.StatusFailed, actErr.Error()
	}
	if err := e.Journal.Finish(ctx, entry.ActionID, status, detail, e.Now()); err != nil {
		// The change may be made but unrecorded: the intent stays open for the next run.
		s.Status, s.Error = generate.StepFailed, "journal result not recorded: "+err.Error()
		return "", fmt.Errorf("journal result: %w", err)
	}
	if actErr != nil {
		return "", stepFailed(ctx, s, actErr)
	}
	s.Status = generate.StepDone
	return "", nil
}

// addToGroup re-reads the user and, if it still qualifies, adds it to the group, journaled.
func (e *Executor) addToGroup(ctx context.Context, h *journal.Lease, runID string, p *generate.InstallPlan, s *generate.Step) error {
	skip := func(why string) error {
		s.Status, s.Detail = generate.StepSkipped, why
		return nil
	}
	u, err := ReadUser(ctx, e.IAM, s.Target)
	switch {
	case errors.Is(err, ErrUserGone):
		return skip("the user no longer exists")
	case err != nil:
		return stepFailed(ctx, s, fmt.Errorf("could not re-read the user: %w", err))
	case s.UserID != "" && u.ID != s.UserID:
		return skip(fmt.Sprintf("user %s was replaced since the data was read (%s → %s)", s.Target, s.UserID, u.ID))
	}
	if why := generate.MemberRefusal(u, generate.SelectOptions{Exempter: e.Exempter, CallerARN: e.CallerARN, AsOf: e.Now()}); why != "" {
		return skip("since the data was read: " + why)
	}
	if in, err := isMember(ctx, e.IAM, p.Group, u.Name, ""); err != nil {
		return stepFailed(ctx, s, err)
	} else if in {
		return skip("already in group " + p.Group)
	}
	actx, cancel, err := e.renew(ctx, h)
	if err != nil {
		s.Status, s.Error = generate.StepSkipped, err.Error()
		return err
	}
	defer cancel()
	id, err := e.IDs.New()
	if err != nil {
		return err
	}
	entry := journal.Entry{ActionID: id, RunID: runID, AccountID: p.AccountID, Kind: journal.KindAddToGroup, Principal: u.Name, UserID: u.ID,
		Resource: p.Group, Reason: "policy apply: console user without MFA, into the group of " + p.PolicyARN,
		Prior: map[string]string{"member": "false"}, Actor: e.CallerARN, CreatedAt: e.Now()}
	s.Detail = "added to group " + p.Group
	_, err = e.change(ctx, entry, s, func() error {
		_, err := e.IAM.AddUserToGroup(actx, &iam.AddUserToGroupInput{GroupName: aws.String(p.Group), UserName: aws.String(u.Name)})
		return err
	})
	return err
}

// setPolicyVersion creates the new version as a non-default one, then makes it the default
// under a journal entry naming the version it replaces.
func (e *Executor) setPolicyVersion(ctx context.Context, h *journal.Lease, runID string, p *generate.InstallPlan, s *generate.Step) error {
	current, err := defaultVersion(ctx, e.IAM, p.PolicyARN)
	if err != nil {
		return stepFailed(ctx, s, err)
	}
	if s.Version != "" && current != s.Version {
		s.Status, s.Detail = generate.StepSkipped, fmt.Sprintf("the default version changed since the plan (%s → %s); nothing was changed, plan again", s.Version, current)
		return nil
	}
	actx, cancel, err := e.renew(ctx, h)
	if err != nil {
		s.Status, s.Error = generate.StepSkipped, err.Error()
		return err
	}
	defer cancel()
	created, err := e.IAM.CreatePolicyVersion(actx, p.CreatePolicyVersionInput(false))
	if err != nil {
		return stepFailed(ctx, s, fmt.Errorf("iam:CreatePolicyVersion %s: %w", p.PolicyARN, err))
	}
	version := aws.ToString(created.PolicyVersion.VersionId)
	// discard deletes the created version when it did not become the default.
	discard := func() {
		if _, err := e.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(p.PolicyARN), VersionId: aws.String(version)}); err != nil {
			s.Detail += fmt.Sprintf("; non-default version %s left in place (iam:DeletePolicyVersion: %v)", version, err)
			e.log().Error("created policy version not deleted", "policy", p.PolicyARN, "version", version, "error", err)
		}
	}
	id, err := e.IDs.New()
	if err != nil {
		discard()
		return err
	}
	entry := journal.Entry{ActionID: id, RunID: runID, AccountID: p.AccountID, Kind: journal.KindSetPolicyVersion, Resource: p.PolicyARN,
		Reason: "policy apply: the enforce-mfa document as the default version",
		Prior:  map[string]string{PriorDefaultVersion: current, PriorNewVersion: version}, Actor: e.CallerARN, CreatedAt: e.Now()}
	s.Detail = fmt.Sprintf("default version %s (was %s)", version, current)
	var setErr error
	skip, err := e.change(ctx, entry, s, func() error {
		_, setErr = e.IAM.SetDefaultPolicyVersion(actx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(p.PolicyARN), VersionId: aws.String(version)})
		return setErr
	})
	// Not journaled, claimed by another run, or not made the default: the version is unused.
	if s.ActionID == "" || skip != "" || setErr != nil {
		discard()
	}
	return err
}
