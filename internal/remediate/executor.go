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

// Guard errors: nothing was changed.
var (
	ErrBlastRadius   = errors.New("plan exceeds the blast-radius limit")
	ErrDeniedAccount = errors.New("account is on the deny-list")
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

	// CallerARN is the identity running the tool: never acted on.
	CallerARN    string
	AccountAlias string
	MaxActions   int
	DenyAccounts []string
	// WarnBefore: a user in a grace period is warned again this long before the deadline.
	WarnBefore time.Duration
	DryRun     bool

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

// Run applies the plan: guards first, then open intents of earlier runs are reconciled, then
// each action is re-checked live and applied. An unexpected error stops the run: the results so
// far are returned with the error, and nothing further is attempted.
func (e *Executor) Run(ctx context.Context, p Plan) (*Outcome, error) {
	runID, err := e.IDs.New()
	if err != nil {
		return nil, err
	}
	out := &Outcome{RunID: runID, DryRun: e.DryRun, Results: []Result{}, Reconciled: []journal.Entry{}, Warnings: []Warning{}}
	if slices.Contains(e.DenyAccounts, p.AccountID) {
		return out, fmt.Errorf("%w: %s; nothing was changed", ErrDeniedAccount, p.AccountID)
	}
	if e.MaxActions > 0 && len(p.Actions) > e.MaxActions {
		return out, fmt.Errorf("%w: %d actions planned, limit %d; nothing was changed (raise --max-actions after checking the plan)",
			ErrBlastRadius, len(p.Actions), e.MaxActions)
	}
	if !e.DryRun {
		rec, err := e.Reconcile(ctx, p.AccountID)
		out.Reconciled = rec
		if err != nil {
			out.Stopped = err.Error()
			return out, err
		}
	}
	for _, a := range p.Actions {
		r, err := e.apply(ctx, runID, a)
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

// apply re-checks one action against live state and, unless dry, performs it.
func (e *Executor) apply(ctx context.Context, runID string, a Action) (Result, error) {
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
	u, err := ReadUser(ctx, e.IAM, a.Principal)
	if errors.Is(err, ErrUserGone) {
		res.Status, res.Detail = StatusSkipped, "the user no longer exists"
		return res, nil
	}
	if err != nil {
		res.Status, res.Detail = StatusFailed, "could not re-read the user: "+err.Error()
		return res, fmt.Errorf("re-read %s: %w", a.Principal, err)
	}
	if why, ok := e.stillQualifies(a, u); !ok {
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

	id, err := e.IDs.New()
	if err != nil {
		return res, err
	}
	res.ActionID = id
	entry := journal.Entry{ActionID: id, RunID: runID, AccountID: a.AccountID, Kind: a.Kind, Principal: a.Principal,
		Resource: a.Resource, Rule: a.Rule, FindingID: a.FindingID, Reason: a.Reason, Prior: prior(a, u),
		Actor: e.CallerARN, CreatedAt: e.Now()}
	if err := e.Journal.Begin(ctx, entry); err != nil {
		res.Status, res.Detail = StatusFailed, "journal: "+err.Error()
		return res, fmt.Errorf("journal intent: %w", err)
	}
	actErr := e.act(ctx, a)
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
	case journal.StatusSkipped:
		res.Status, res.Detail = StatusSkipped, detail
	default:
		res.Status, res.Detail = StatusFailed, detail
	}
	e.notifyAction(ctx, a, res)
	if status == journal.StatusFailed {
		return res, fmt.Errorf("%s %s: %w", a.Kind, a.Principal, actErr)
	}
	return res, nil
}

// stillQualifies re-runs the action's rule on the freshly read user, as of now.
func (e *Executor) stillQualifies(a Action, u *inventory.User) (string, bool) {
	rule, ok := rules.Lookup(a.Rule)
	if !ok {
		return "unknown rule " + a.Rule, false
	}
	env := rules.Env{AsOf: e.Now(), Thresholds: e.Thresholds}
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
