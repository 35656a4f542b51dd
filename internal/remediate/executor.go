package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// Status of one planned action after a run.
type Status string

const (
	StatusDone    Status = "done"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
	// StatusRefused: a safety check refused the change (another person of the same name, another
	// account); nothing was changed.
	StatusRefused Status = "refused"
	// StatusWouldDo: a dry run found the user still qualifies; apply would act.
	StatusWouldDo Status = "would-do"
)

// Result is what happened to one action.
type Result struct {
	Action   Action `json:"action"`
	Status   Status `json:"status"`
	Detail   string `json:"detail"`
	ActionID string `json:"action_id,omitempty"`
}

// Outcome is a whole run.
type Outcome struct {
	RunID   string   `json:"run_id"`
	DryRun  bool     `json:"dry_run"`
	Results []Result `json:"results"`
	// Reconciled are intents left open by an earlier crash and settled by this run.
	Reconciled []journal.Entry `json:"reconciled"`
	// Warnings are the grace-period warnings sent (or, dry, that would be sent).
	Warnings []Warning `json:"warnings"`
	// Refused says why the whole plan was refused before anything was attempted: nothing was
	// changed.
	Refused string `json:"refused,omitempty"`
	// Stopped says why the run stopped before the end of the plan, when it did.
	Stopped string `json:"stopped,omitempty"`
}

// Count returns how many results have the status.
func (o *Outcome) Count(s Status) int {
	n := 0
	for _, r := range o.Results {
		if r.Status == s {
			n++
		}
	}
	return n
}

// Changed reports whether the run changed anything in the account.
func (o *Outcome) Changed() bool { return o.Count(StatusDone) > 0 }

// Guard errors: nothing was changed.
var (
	ErrBlastRadius   = errors.New("plan exceeds the blast-radius limit")
	ErrDeniedAccount = errors.New("account is on the deny-list")
	// ErrJournal: the journal is unusable (unreachable, not writable, wrong schema).
	ErrJournal = errors.New("journal unusable")
)

// Executor applies plans to one account.
type Executor struct {
	IAM     IAMAPI
	Journal journal.Journal
	// Notifier and Topic deliver notifications; nil Notifier or empty Topic sends none.
	Notifier notify.Notifier
	Topic    string

	Rules      []rules.Rule
	Thresholds rules.Thresholds
	Exempter   rules.Exempter

	// CallerARN is the identity running the tool: never acted on, and its account is the only
	// one acted on.
	CallerARN    string
	AccountAlias string
	MaxActions   int
	DenyAccounts []string
	// WarnBefore: a user in a grace period is warned again this long before the deadline.
	WarnBefore time.Duration
	DryRun     bool
	// LockTimeout is how long to wait for another run's lease on the account (0: do not wait).
	LockTimeout time.Duration
	// LeaseTTL is how long the lease lasts without renewal; 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration

	Now func() time.Time
	IDs *journal.IDGenerator
	Log *slog.Logger
}

func (e *Executor) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// refuse applies the guards that refuse a whole plan.
func (e *Executor) refuse(p Plan) error {
	if slices.Contains(e.DenyAccounts, p.AccountID) {
		return fmt.Errorf("%w: %s; nothing was changed", ErrDeniedAccount, p.AccountID)
	}
	if err := e.checkAccount(p.AccountID, "the plan"); err != nil {
		return err
	}
	if n := p.Changes(); e.MaxActions > 0 && n > e.MaxActions {
		return fmt.Errorf("%w: %d actions planned, limit %d; nothing was changed (raise --max-actions after checking the plan)",
			ErrBlastRadius, n, e.MaxActions)
	}
	return nil
}

// Run applies the plan: guards first, then the journal is checked and the account's lease
// taken, open intents of dead runs are reconciled, then each action is re-checked live and
// applied. A failed action is journaled and the run goes on; a systemic error (expired
// credentials, the journal or the lease lost) stops it, and the results so far are returned with
// the error.
func (e *Executor) Run(ctx context.Context, p Plan) (*Outcome, error) {
	runID, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	out := &Outcome{RunID: runID, DryRun: e.DryRun, Results: []Result{}, Reconciled: []journal.Entry{}, Warnings: []Warning{}}
	if err := e.preflight(ctx, e.refuse(p)); err != nil {
		out.Refused = err.Error()
		return out, err
	}
	var h *journal.Lease
	if !e.DryRun {
		if h, err = e.acquire(ctx, p.AccountID, runID); err != nil {
			out.Refused = err.Error()
			return out, err
		}
		defer e.release(h)
		rec, err := e.Reconcile(ctx, p.AccountID)
		out.Reconciled = rec
		if err != nil {
			out.Stopped = err.Error()
			return out, err
		}
	}
	for _, a := range p.Actions {
		r, err := e.apply(ctx, h, runID, a)
		out.Results = append(out.Results, r)
		if err != nil {
			out.Stopped = err.Error()
			e.summary(ctx, p, out)
			return out, err
		}
	}
	warnings, err := e.warn(ctx, p)
	out.Warnings = warnings
	if err != nil {
		out.Stopped = err.Error()
	}
	e.summary(ctx, p, out)
	return out, err
}

// preflight returns the refusal of a whole plan, if any, else checks the journal: what must
// hold before a run attempts anything, in a dry run too.
func (e *Executor) preflight(ctx context.Context, refusal error) error {
	if refusal != nil {
		return refusal
	}
	if err := e.Journal.Check(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	return nil
}

// systemic reports errors after which no further call can succeed: the run must stop.
func systemic(ctx context.Context, err error) bool {
	switch awsapi.ClassifyError(err) {
	case awsapi.ExpiredCredentials, awsapi.InvalidCredentials:
		return true
	}
	return ctx.Err() != nil
}

// apply re-checks one action against live state and, unless dry, performs it. The returned
// error is systemic: the run stops. A change AWS refused is a failed result with a nil error.
func (e *Executor) apply(ctx context.Context, h *journal.Lease, runID string, a Action) (Result, error) {
	res := Result{Action: a}
	log := e.log().With("user", a.Principal, "action", string(a.Kind), "rule", a.Rule)
	if a.Resource != "" {
		log = log.With("key", maskKey(a.Resource))
	}
	if e.CallerARN != "" && a.PrincipalARN == e.CallerARN {
		res.Status, res.Detail = StatusSkipped, "refusing to act on the identity running iamwarden"
		e.notifyAction(ctx, a, res)
		return res, nil
	}
	if a.Principal == inventory.RootName {
		res.Status, res.Detail = StatusSkipped, "the root user is never acted on"
		return res, nil
	}
	if a.Refusal != "" {
		res.Status, res.Detail = StatusRefused, a.Refusal
		return res, nil
	}
	// The history of the change's target is read before live state: a run that claims the
	// change after another run applied it then also sees the applied change live, and skips it.
	// Data without user IDs can only be read once the live user gives the ID.
	history := func(userID string) (string, error) {
		prev, _, err := journal.LastApplied(ctx, e.Journal, journal.Entry{AccountID: a.AccountID, Kind: a.Kind, Principal: a.Principal,
			UserID: userID, Resource: a.Resource})
		return prev.ActionID, err
	}
	var prev string
	if !e.DryRun && a.UserID != "" {
		var err error
		if prev, err = history(a.UserID); err != nil {
			res.Status, res.Detail = StatusFailed, err.Error()
			return res, err
		}
	}
	u, err := ReadUser(ctx, e.IAM, a.Principal)
	if errors.Is(err, ErrUserGone) {
		res.Status, res.Detail = StatusSkipped, "the user no longer exists"
		return res, nil
	}
	if err != nil {
		res.Status, res.Detail = StatusFailed, "could not re-read the user: "+err.Error()
		log.Error("could not re-read the user", "error", err)
		if systemic(ctx, err) {
			return res, fmt.Errorf("re-read %s: %w", a.Principal, err)
		}
		return res, nil
	}
	if a.UserID != "" && u.ID != a.UserID {
		res.Status, res.Detail = StatusSkipped, fmt.Sprintf("user %s was replaced since the data was read (%s → %s)", a.Principal, a.UserID, u.ID)
		return res, nil
	}
	grants, err := e.graceGrants(ctx, a)
	if err != nil {
		res.Status, res.Detail = StatusFailed, err.Error()
		return res, err
	}
	if why, ok := e.stillQualifies(a, u, grants); !ok {
		res.Status, res.Detail = StatusSkipped, why
		log.Info("skipped: no longer qualifies", "reason", why)
		if !e.DryRun {
			e.notifyAction(ctx, a, res)
		}
		return res, nil
	}
	if e.DryRun {
		res.Status, res.Detail = StatusWouldDo, a.Reason
		return res, nil
	}

	actx, cancel, err := e.renew(ctx, h)
	if err != nil {
		res.Status, res.Detail = StatusSkipped, err.Error()
		return res, err
	}
	defer cancel()
	id, err := e.IDs.New()
	if err != nil {
		return res, err
	}
	entry := journal.Entry{ActionID: id, RunID: runID, AccountID: a.AccountID, Kind: a.Kind, Principal: a.Principal, UserID: u.ID,
		Resource: a.Resource, Rule: a.Rule, FindingID: a.FindingID, Reason: a.Reason, Prior: prior(a, u),
		Actor: e.CallerARN, CreatedAt: e.Now()}
	if a.UserID == "" {
		if prev, err = history(u.ID); err != nil {
			res.Status, res.Detail = StatusFailed, err.Error()
			return res, err
		}
	}
	entry.DedupeKey = journal.ChangeKey(entry, prev)
	if err := e.Journal.Begin(ctx, entry); err != nil {
		if errors.Is(err, journal.ErrExists) {
			// Another run read the same history and claimed this very change first.
			res.Status, res.Detail = StatusSkipped, "another run is making or made this change"
			return res, nil
		}
		res.Status, res.Detail = StatusFailed, "journal: "+err.Error()
		return res, fmt.Errorf("journal intent: %w", err)
	}
	res.ActionID = id
	actErr := e.act(actx, a)
	if actErr != nil && actx.Err() != nil && ctx.Err() == nil {
		// The lease ran out during the call: the change may or may not land. The intent stays
		// open for the next run to reconcile from live state.
		res.Status, res.Detail = StatusFailed, "the change did not finish before the lease ran out; the next run reconciles it"
		return res, fmt.Errorf("%s %s: %w", a.Kind, a.Principal, actErr)
	}
	status, detail := journal.StatusDone, doneDetail(a)
	switch {
	case actErr == nil:
	case isNoSuchEntity(actErr) && a.Kind == journal.KindDisableConsole:
		// The profile was present when re-read a moment ago: most likely the answer to our own
		// delete was lost and the retry found it done. The desired state holds either way.
		detail = "console access disabled (login profile found absent on retry)"
	default:
		status, detail = journal.StatusFailed, actErr.Error()
	}
	if err := e.Journal.Finish(ctx, id, status, detail, e.Now()); err != nil {
		// The change may be made but unrecorded: the intent stays open and the next run
		// reconciles it. Stop rather than act further without a journal.
		res.Status, res.Detail = StatusFailed, "journal result not recorded: "+err.Error()
		return res, fmt.Errorf("journal result: %w", err)
	}
	switch status {
	case journal.StatusDone:
		res.Status, res.Detail = StatusDone, detail
		log.Warn("remediated")
	default:
		res.Status, res.Detail = StatusFailed, detail
		log.Error("action failed", "error", actErr)
	}
	e.notifyAction(ctx, a, res)
	if status == journal.StatusFailed && systemic(ctx, actErr) {
		return res, fmt.Errorf("%s %s: %w", a.Kind, a.Principal, actErr)
	}
	return res, nil
}

// stillQualifies re-runs the action's rule on the freshly read user, as of now.
func (e *Executor) stillQualifies(a Action, u *inventory.User, grants map[string]rules.GraceGrant) (string, bool) {
	rule, ok := rules.Lookup(a.Rule)
	if !ok {
		return "unknown rule " + a.Rule, false
	}
	env := rules.Env{AsOf: e.Now(), Thresholds: e.Thresholds, GraceGrants: grants}
	for _, f := range rules.Evaluate(env, a.AccountID, u, []rules.Rule{rule}, e.Exempter) {
		if a.Kind == journal.KindDeactivateKey && f.Resource != a.Resource {
			continue
		}
		switch f.State {
		case rules.StateViolation:
			return "", true
		case rules.StateExempt:
			return "exempt since the data was read: " + f.Exemption.Reason, false
		case rules.StatePending:
			return "inside its grace period until " + f.Deadline.UTC().Format(time.RFC3339), false
		}
	}
	return noLongerReason(a, u), false
}

// graceGrants reads, just before acting on a console user, the grace periods granted after MFA
// removals: one may have been granted since the plan was made.
func (e *Executor) graceGrants(ctx context.Context, a Action) (map[string]rules.GraceGrant, error) {
	if a.Rule != "console-mfa-missing" {
		return nil, nil
	}
	return GraceGrants(ctx, e.Journal, a.AccountID, e.Thresholds.MFARemovedGrace, e.Now())
}

// noLongerReason says, from live state, why a user no longer qualifies.
func noLongerReason(a Action, u *inventory.User) string {
	switch a.Kind {
	case journal.KindDisableConsole:
		switch {
		case !u.Password.Enabled:
			return "console access already disabled (no login profile)"
		case u.MFA.Active && a.Rule == "console-mfa-missing":
			return "an MFA device was registered since the data was read"
		case !u.Password.LastUsed.IsZero():
			return "the password was used " + u.Password.LastUsed.Format(time.RFC3339) + ", since the data was read"
		}
	case journal.KindDeactivateKey:
		for _, k := range u.AccessKeys {
			if k.ID != a.Resource {
				continue
			}
			if !k.Active {
				return "the key is already inactive"
			}
			if !k.LastUsed.IsZero() {
				return "the key was used " + k.LastUsed.Format(time.RFC3339) + ", since the data was read"
			}
		}
		return "the key no longer exists"
	}
	return "the rule no longer finds a violation in live state"
}

// prior is the state an undo needs.
func prior(a Action, u *inventory.User) map[string]string {
	switch a.Kind {
	case journal.KindDisableConsole:
		return map[string]string{"login_profile": "present", "login_profile_created": u.Password.ProfileCreated.Format(time.RFC3339),
			"mfa_devices": strconv.Itoa(len(u.MFA.Devices))}
	case journal.KindDeactivateKey:
		for _, k := range u.AccessKeys {
			if k.ID == a.Resource {
				return map[string]string{"key_status": "Active", "key_created": k.Created.Format(time.RFC3339)}
			}
		}
	}
	return map[string]string{}
}

// act performs the change.
func (e *Executor) act(ctx context.Context, a Action) error {
	switch a.Kind {
	case journal.KindDisableConsole:
		_, err := e.IAM.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(a.Principal)})
		return err
	case journal.KindDeactivateKey:
		_, err := e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(a.Principal),
			AccessKeyId: aws.String(a.Resource), Status: types.StatusTypeInactive})
		return err
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

func doneDetail(a Action) string {
	if a.Kind == journal.KindDeactivateKey {
		return "access key " + maskKey(a.Resource) + " deactivated"
	}
	return "console access disabled (login profile deleted)"
}

func maskKey(id string) string { return rules.MaskKeyID(id) }
