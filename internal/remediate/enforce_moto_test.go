package remediate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/scan"
)

const day = 24 * time.Hour

// account is a moto account holding a user of every kind enforcement must tell apart.
type account struct {
	t     *testing.T
	srv   *mototest.Server
	cfg   aws.Config
	iam   *iam.Client
	keys  map[string]string
	now   time.Time
	topic string
	queue string
}

func (a *account) ok(_ any, err error) {
	a.t.Helper()
	if err != nil {
		a.t.Fatal(err)
	}
}

func (a *account) user(name string, tags ...iamtypes.Tag) {
	a.t.Helper()
	a.ok(a.iam.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name), Tags: tags}))
	a.srv.BackdateUser(name, a.now.Add(-400*day))
}

func (a *account) key(user, label string, created, lastUsed time.Time) {
	a.t.Helper()
	out, err := a.iam.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		a.t.Fatal(err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	a.srv.SetAccessKey(user, id, created, lastUsed, "s3", "us-east-1")
	a.keys[label] = id
}

func (a *account) mfa(user string) {
	a.t.Helper()
	a.srv.EnableVirtualMFA(a.iam, user, user+"-phone")
}

func newAccount(t *testing.T) *account {
	srv := mototest.Shared(t)
	ctx := context.Background()
	a := &account{t: t, srv: srv, cfg: srv.Config(ctx), keys: map[string]string{}, now: time.Now().UTC()}
	a.iam = iam.NewFromConfig(a.cfg)
	n := a.now

	a.user("newbie") // password set 2 hours ago: inside the grace period, warned, not acted on
	srv.SetPassword("newbie", n.Add(-2*time.Hour), time.Time{})
	a.user("pastgrace") // password for 3 days without MFA: console access disabled
	srv.SetPassword("pastgrace", n.Add(-3*day), n.Add(-day))
	a.user("registered") // past grace in the report, registers MFA before enforcement
	srv.SetPassword("registered", n.Add(-3*day), n.Add(-day))
	a.user("dormant") // MFA, password unused for 120 days: console access disabled
	a.mfa("dormant")
	srv.SetPassword("dormant", n.Add(-300*day), n.Add(-120*day))
	a.user("twokeys") // MFA, a stale key and a fresh one: only the stale key is deactivated
	a.mfa("twokeys")
	a.key("twokeys", "stale", n.Add(-200*day), n.Add(-100*day))
	a.key("twokeys", "fresh", n.Add(-10*day), n.Add(-time.Hour))
	a.user("keyuser") // MFA, a key stale in the report, used an hour before enforcement
	a.mfa("keyuser")
	a.key("keyuser", "reused", n.Add(-200*day), n.Add(-100*day))
	a.user("vendor", // exempt until next year
		iamtypes.Tag{Key: aws.String(exempt.TagReason), Value: aws.String("vendor integration, rotation contract")},
		iamtypes.Tag{Key: aws.String(exempt.TagUntil), Value: aws.String(n.AddDate(1, 0, 0).Format("2006-01-02"))})
	a.mfa("vendor")
	a.key("vendor", "vendor", n.Add(-200*day), n.Add(-100*day))
	a.user("lapsed", // exemption expired: acted on
		iamtypes.Tag{Key: aws.String(exempt.TagReason), Value: aws.String("migration")},
		iamtypes.Tag{Key: aws.String(exempt.TagUntil), Value: aws.String("2026-01-01")})
	a.mfa("lapsed")
	a.key("lapsed", "lapsed", n.Add(-200*day), n.Add(-100*day))
	a.user("latecomer") // exempted after the report was read
	a.mfa("latecomer")
	a.key("latecomer", "latecomer", n.Add(-200*day), n.Add(-100*day))
	a.user("listed") // on the SSM exclusion list: exempt without an expiry
	a.mfa("listed")
	a.key("listed", "listed", n.Add(-200*day), n.Add(-100*day))
	a.user("caller") // the identity running the tool
	srv.SetPassword("caller", n.Add(-300*day), n.Add(-200*day))
	a.mfa("caller")

	snsc, sqsc := sns.NewFromConfig(a.cfg), sqs.NewFromConfig(a.cfg)
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("iamwarden")})
	if err != nil {
		t.Fatal(err)
	}
	a.topic = aws.ToString(topic.TopicArn)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("iamwarden-notifications")})
	if err != nil {
		t.Fatal(err)
	}
	a.queue = aws.ToString(q.QueueUrl)
	qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"])})
	if err != nil {
		t.Fatal(err)
	}
	a.ok(snsc.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn,
		AttributeName: aws.String("RawMessageDelivery"), AttributeValue: aws.String("true")}))
	return a
}

// plan scans the account live and builds the default plan, as enforce does.
func (a *account) plan() remediate.Plan {
	a.t.Helper()
	cfg := exclusionConfig()
	_, p := scanAndPlan(a.t, a.iam, a.cfg, cfg, exempt.New(cfg, []string{"listed"}))
	return p
}

// scanAndPlan reads an account live, judges it with cfg's rules and exempter, and builds the
// default plan, as enforce does.
func scanAndPlan(t *testing.T, c *iam.Client, awsCfg aws.Config, cfg *config.Config, exempter rules.Exempter) (*report.Result, remediate.Plan) {
	t.Helper()
	ctx := context.Background()
	loader := inventory.NewLoader(c, sts.NewFromConfig(awsCfg), inventory.LoaderOptions{})
	raw, err := loader.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(ctx, snap, scan.Options{Rules: cfg.EnabledRules(), Thresholds: cfg.Thresholds(), Exempter: exempter}, loader)
	if err != nil {
		t.Fatal(err)
	}
	return res, remediate.BuildPlan(res.AccountID, res.AccountAlias, res.Findings, remediate.DefaultRemediations())
}

// changeAfterRead is what happens between the inventory and the action.
func (a *account) changeAfterRead() {
	a.t.Helper()
	a.mfa("registered")
	a.srv.SetAccessKey("keyuser", a.keys["reused"], time.Time{}, a.now.Add(-time.Hour), "s3", "us-east-1")
	a.ok(a.iam.TagUser(context.Background(), &iam.TagUserInput{UserName: aws.String("latecomer"), Tags: []iamtypes.Tag{
		{Key: aws.String(exempt.TagReason), Value: aws.String("batch job owner on leave")},
		{Key: aws.String(exempt.TagUntil), Value: aws.String(a.now.AddDate(0, 1, 0).Format("2006-01-02"))}}}))
}

// exclusionConfig names the SSM exclusion list (its users are passed in, as read from SSM).
func exclusionConfig() *config.Config {
	cfg := config.Default()
	cfg.ExemptionParameter = "/iam-unused-user-cleanup/excluded-users"
	return cfg
}

func (a *account) executor(j journal.Journal, dry bool) *remediate.Executor {
	cfg := exclusionConfig()
	return &remediate.Executor{
		IAM: a.iam, Journal: j, Notifier: notify.NewPublisher(sns.NewFromConfig(a.cfg), notify.Options{}), Topic: a.topic,
		Rules: cfg.EnabledRules(), Thresholds: cfg.Thresholds(), Exempter: exempt.New(cfg, []string{"listed"}),
		CallerARN: fmt.Sprintf("arn:aws:iam::%s:user/caller", a.srv.AccountID), MaxActions: 25, WarnBefore: 6 * time.Hour,
		DryRun: dry, Now: time.Now, IDs: journal.NewIDGenerator(time.Now, nil),
	}
}

// state is what enforcement may change: login profiles and key statuses.
func (a *account) state() map[string]string {
	a.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, u := range []string{"newbie", "pastgrace", "registered", "dormant", "twokeys", "keyuser", "vendor", "lapsed", "latecomer", "listed", "caller"} {
		_, err := a.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u)})
		var nse *iamtypes.NoSuchEntityException
		switch {
		case err == nil:
			out[u+" console"] = "yes"
		case errors.As(err, &nse):
			out[u+" console"] = "no"
		default:
			a.t.Fatal(err)
		}
		keys, err := a.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u)})
		if err != nil {
			a.t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			out[u+" "+aws.ToString(k.AccessKeyId)] = string(k.Status)
		}
	}
	return out
}

func openJournal(t *testing.T) journal.Journal {
	return openJournalAt(t, filepath.Join(t.TempDir(), "journal.db"))
}

func openJournalAt(t *testing.T, path string) journal.Journal {
	j, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func diff(t *testing.T, before, after map[string]string) map[string]string {
	t.Helper()
	changed := map[string]string{}
	for k, v := range after {
		if before[k] != v {
			changed[k] = before[k] + "->" + v
		}
	}
	return changed
}

func TestEnforceScenario(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	p := a.plan()
	a.changeAfterRead()
	j := openJournal(t)
	before := a.state()

	// Planned: 3 console users (pastgrace, registered, dormant) + caller's unused password, and
	// the stale keys of twokeys, keyuser, lapsed, latecomer. vendor is exempt; newbie pending.
	planned := map[string]bool{}
	for _, act := range p.Actions {
		planned[act.Principal+" "+string(act.Kind)+" "+act.Resource] = true
	}
	wantPlan := []string{"pastgrace disable-console ", "registered disable-console ", "dormant disable-console ", "caller disable-console ",
		"twokeys deactivate-key " + a.keys["stale"], "keyuser deactivate-key " + a.keys["reused"],
		"lapsed deactivate-key " + a.keys["lapsed"], "latecomer deactivate-key " + a.keys["latecomer"]}
	for _, w := range wantPlan {
		if !planned[w] {
			t.Errorf("plan lacks %q: %v", w, planned)
		}
	}
	if len(p.Actions) != len(wantPlan) || len(p.Pending) != 1 || p.Pending[0].Principal != "newbie" {
		t.Fatalf("plan: %d actions, pending %+v", len(p.Actions), p.Pending)
	}

	// Dry run: nothing changes, and it says what apply would do.
	dry, err := a.executor(j, true).Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(t, before, a.state()); len(d) != 0 {
		t.Fatalf("dry run changed %v", d)
	}
	if entries, _ := j.List(ctx, journal.Filter{}); len(entries) != 0 {
		t.Fatalf("dry run journaled %d entries", len(entries))
	}
	if dry.Count(remediate.StatusWouldDo) != 4 {
		t.Errorf("dry run would do %d, want 4: %+v", dry.Count(remediate.StatusWouldDo), dry.Results)
	}

	out, err := a.executor(j, false).Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	wantChange := map[string]string{
		"pastgrace console":          "yes->no",
		"dormant console":            "yes->no",
		"twokeys " + a.keys["stale"]: "Active->Inactive",
		"lapsed " + a.keys["lapsed"]: "Active->Inactive",
	}
	got := diff(t, before, a.state())
	if fmt.Sprint(got) != fmt.Sprint(wantChange) {
		t.Errorf("changed %v\nwant    %v", got, wantChange)
	}
	skipped := map[string]string{}
	for _, r := range out.Results {
		if r.Status == remediate.StatusSkipped {
			skipped[r.Action.Principal] = r.Detail
		}
	}
	wantSkip := map[string]string{
		"registered": "an MFA device was registered",
		"keyuser":    "the key was used",
		"latecomer":  "exempt since the data was read: batch job owner on leave",
		"caller":     "refusing to act on the identity running iamwarden",
	}
	for u, w := range wantSkip {
		if !strings.Contains(skipped[u], w) {
			t.Errorf("%s skipped with %q, want %q", u, skipped[u], w)
		}
	}
	if len(skipped) != len(wantSkip) {
		t.Errorf("skipped %v", skipped)
	}

	// The journal holds each action with the state needed to undo it.
	done, err := j.List(ctx, journal.Filter{RunID: out.RunID, Statuses: []journal.Status{journal.StatusDone}})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 4 {
		t.Fatalf("journal: %d done entries, want 4: %+v", len(done), done)
	}
	for _, e := range done {
		if e.Kind == journal.KindDeactivateKey && e.Prior["key_status"] != "Active" || e.Kind == journal.KindDisableConsole && e.Prior["login_profile"] != "present" {
			t.Errorf("journal entry without prior state: %+v", e)
		}
	}
	if open, _ := j.Open(ctx, a.srv.AccountID); len(open) != 0 {
		t.Errorf("open intents after a clean run: %+v", open)
	}

	// Notifications: one per action (done and skipped), the grace warning, the summary.
	msgs := receive(t, a)
	kinds := map[string]int{}
	for _, m := range msgs {
		kinds[aws.ToString(m.MessageAttributes["event"].StringValue)]++
		body := aws.ToString(m.Body)
		for _, id := range a.keys {
			if strings.Contains(body, id) {
				t.Errorf("unmasked key %s in notification %q", id, body)
			}
		}
	}
	want := map[string]int{"action-done": 4, "action-skipped": 4, "grace-started": 1, "run-summary": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("notifications %v, want %v", kinds, want)
	}

	// Running the same plan again acts on nobody and warns nobody again.
	again, err := a.executor(j, false).Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if again.Count(remediate.StatusDone) != 0 || len(again.Warnings) != 0 {
		t.Errorf("second run: %d done, %d warnings", again.Count(remediate.StatusDone), len(again.Warnings))
	}
	if d := diff(t, before, a.state()); fmt.Sprint(d) != fmt.Sprint(wantChange) {
		t.Errorf("second run changed state: %v", d)
	}

	// Undo the first run: keys reactivated, console access restored with a one-time password.
	undone, err := a.executor(j, false).UndoRun(ctx, out.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(t, before, a.state()); len(d) != 0 {
		t.Errorf("after undo, still changed: %v", d)
	}
	passwords := 0
	for _, u := range undone.Results {
		if u.Of.Kind == journal.KindDisableConsole {
			if len(u.Password) < 20 {
				t.Errorf("restored %s with password of %d chars", u.Of.Principal, len(u.Password))
			}
			passwords++
			lp, err := a.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(u.Of.Principal)})
			if err != nil || !lp.LoginProfile.PasswordResetRequired {
				t.Errorf("restored %s without a required reset: %v", u.Of.Principal, err)
			}
		}
	}
	if passwords != 2 {
		t.Errorf("%d console restores, want 2", passwords)
	}
	entries, _ := j.List(ctx, journal.Filter{})
	for _, e := range entries {
		raw, _ := json.Marshal(e)
		for _, u := range undone.Results {
			if u.Password != "" && strings.Contains(string(raw), u.Password) {
				t.Fatal("a password reached the journal")
			}
		}
	}
	// Undoing again changes nothing and says why.
	again2, err := a.executor(j, false).Undo(ctx, undone.Results[0].Of.ActionID)
	if err != nil || len(again2.Results) != 1 || again2.Results[0].Status != remediate.StatusSkipped ||
		!strings.Contains(again2.Results[0].Detail, "already undone by "+undone.Results[0].ActionID) {
		t.Errorf("second undo: %+v, %v; want skipped as already undone", again2, err)
	}
}

func receive(t *testing.T, a *account) []sqstypes.Message {
	t.Helper()
	c := sqs.NewFromConfig(a.cfg)
	var out []sqstypes.Message
	for {
		r, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(a.queue),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, VisibilityTimeout: 600})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		out = append(out, r.Messages...)
	}
}

func TestEnforceGuards(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	p := a.plan()
	j := openJournal(t)
	before := a.state()

	e := a.executor(j, false)
	e.MaxActions = 3
	if _, err := e.Run(ctx, p); !errors.Is(err, remediate.ErrBlastRadius) {
		t.Errorf("blast radius: %v", err)
	}
	e = a.executor(j, false)
	e.DenyAccounts = []string{a.srv.AccountID}
	if _, err := e.Run(ctx, p); !errors.Is(err, remediate.ErrDeniedAccount) {
		t.Errorf("deny-list: %v", err)
	}
	if d := diff(t, before, a.state()); len(d) != 0 {
		t.Errorf("a refused run changed %v", d)
	}
	if entries, _ := j.List(ctx, journal.Filter{}); len(entries) != 0 {
		t.Errorf("a refused run journaled %d entries", len(entries))
	}
}

// A crash between the intent and the result leaves an open intent; the next run looks at live
// state and records what really happened, and does not act twice.
func TestEnforceReconcilesCrash(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	p := a.plan()
	j := openJournal(t)
	ids := journal.NewIDGenerator(time.Now, nil)
	crashed := func(user string, kind journal.Kind, resource string) string {
		id, _ := ids.New()
		if err := j.Begin(ctx, journal.Entry{ActionID: id, RunID: "crashed", AccountID: a.srv.AccountID, Kind: kind,
			Principal: user, Resource: resource, Rule: "r", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// pastgrace's login profile was deleted before the crash; twokeys' key was not deactivated.
	applied := crashed("pastgrace", journal.KindDisableConsole, "")
	a.ok(a.iam.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("pastgrace")}))
	notApplied := crashed("twokeys", journal.KindDeactivateKey, a.keys["stale"])

	out, err := a.executor(j, false).Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]journal.Status{}
	for _, e := range out.Reconciled {
		status[e.ActionID] = e.Status
	}
	if status[applied] != journal.StatusReconciledDone || status[notApplied] != journal.StatusReconciledNotDone {
		t.Errorf("reconciled %v", status)
	}
	for _, r := range out.Results {
		if r.Action.Principal == "pastgrace" && r.Status != remediate.StatusSkipped {
			t.Errorf("pastgrace acted on again: %+v", r)
		}
		if r.Action.Principal == "twokeys" && r.Status != remediate.StatusDone {
			t.Errorf("twokeys not deactivated after reconciliation: %+v", r)
		}
	}
	if open, _ := j.Open(ctx, a.srv.AccountID); len(open) != 0 {
		t.Errorf("intents still open: %+v", open)
	}
}

var _ = rules.StateViolation
