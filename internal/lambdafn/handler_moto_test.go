package lambdafn_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/iamwarden/iamwarden/internal/deadline"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/lambdafn"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

const (
	day         = 24 * time.Hour
	fixtureAcct = "123456789012"
	group       = "iamwarden-deadlines"
	functionARN = "arn:aws:lambda:us-east-1:%s:function:iamwarden"
)

// fn is a deployed function over one moto account: its environment, journal table, topic and
// schedule group, as the CloudFormation stack creates them.
type fn struct {
	t    *testing.T
	srv  *mototest.Server
	cfg  aws.Config
	iam  *iam.Client
	env  map[string]string
	h    *lambdafn.Handler
	mu   *sync.Mutex
	sch  *scheduler.Client
	now  time.Time
	logs *logBuffer
}

func newFn(t *testing.T, mode string) *fn {
	t.Helper()
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	f := &fn{t: t, srv: srv, cfg: cfg, iam: iam.NewFromConfig(cfg), mu: &sync.Mutex{}, sch: scheduler.NewFromConfig(cfg),
		now: time.Now().UTC().Truncate(time.Second), logs: &logBuffer{}}
	if _, err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(cfg), "iamwarden-journal"); err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("iamwarden")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sch.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	f.env = map[string]string{
		lambdafn.EnvMode:             mode,
		lambdafn.EnvJournalTable:     "iamwarden-journal",
		lambdafn.EnvSNSTopicARN:      aws.ToString(topic.TopicArn),
		lambdafn.EnvScheduleGroup:    group,
		lambdafn.EnvSchedulerRoleARN: "arn:aws:iam::" + srv.AccountID + ":role/iamwarden-scheduler",
		lambdafn.EnvGrace:            "72h",
	}
	f.h = &lambdafn.Handler{AWS: cfg, Getenv: func(k string) string { return f.env[k] }, Now: func() time.Time { return f.now },
		Log: newLogger(f.logs),
		Journal: func(table string) (journal.Journal, error) {
			return dynamo.New(dynamotest.Serial{Mu: f.mu, Client: dynamodb.NewFromConfig(cfg)}, table)
		}}
	return f
}

// invoke runs payload through aws-lambda-go's handler wrapper, as the runtime does.
func (f *fn) invoke(payload []byte) (lambdafn.Response, error) {
	f.t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1",
		InvokedFunctionArn: strings.ReplaceAll(functionARN, "%s", f.srv.AccountID)})
	out, err := lambda.NewHandler(f.h.Invoke).Invoke(ctx, payload)
	var r lambdafn.Response
	if err == nil {
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			f.t.Fatalf("response %s: %v", out, jerr)
		}
	}
	return r, err
}

func (f *fn) mustInvoke(payload []byte) lambdafn.Response {
	f.t.Helper()
	r, err := f.invoke(payload)
	if err != nil {
		f.t.Fatalf("invoke: %v\nlogs:\n%s", err, f.logs)
	}
	return r
}

// fixture reads an event fixture with its account and user made this test's.
func (f *fn) fixture(name, user string) []byte {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		f.t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), fixtureAcct, f.srv.AccountID)
	if user != "" {
		s = strings.ReplaceAll(s, `"alice"`, `"`+user+`"`)
	}
	return []byte(s)
}

func (f *fn) consoleUser(name string, setAt time.Time) string {
	f.t.Helper()
	return f.srv.ConsoleUser(f.iam, name, setAt)
}

func (f *fn) hasProfile(name string) bool {
	f.t.Helper()
	_, err := f.iam.GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String(name)})
	return err == nil
}

func (f *fn) schedule(userID string) (*scheduler.GetScheduleOutput, bool) {
	f.t.Helper()
	out, err := f.sch.GetSchedule(context.Background(), &scheduler.GetScheduleInput{Name: aws.String(deadline.Name(f.srv.AccountID, userID)),
		GroupName: aws.String(group)})
	if err != nil {
		return nil, false
	}
	return out, true
}

func (f *fn) journal() []journal.Entry {
	f.t.Helper()
	j, err := dynamo.New(dynamotest.Serial{Mu: f.mu, Client: dynamodb.NewFromConfig(f.cfg)}, "iamwarden-journal")
	if err != nil {
		f.t.Fatal(err)
	}
	es, err := j.List(context.Background(), journal.Filter{AccountID: f.srv.AccountID})
	if err != nil {
		f.t.Fatal(err)
	}
	return es
}

func count(es []journal.Entry, kind journal.Kind, status journal.Status) int {
	n := 0
	for _, e := range es {
		if e.Kind == kind && e.Status == status {
			n++
		}
	}
	return n
}

func TestCreateLoginProfileWelcomesAndSchedulesTheDeadline(t *testing.T) {
	f := newFn(t, "report")
	setAt := f.now.Add(-time.Hour)
	id := f.consoleUser("alice", setAt)

	r := f.mustInvoke(f.fixture("cloudtrail-CreateLoginProfile.json", "alice"))
	if r.Event != lambdafn.KindCloudTrail || r.Ignored != "" || r.Schedule != "deadline created" || r.Warnings != 1 {
		t.Fatalf("response %+v; want the deadline created and one welcome warning", r)
	}
	s, ok := f.schedule(id)
	if !ok {
		t.Fatal("no deadline schedule in the group")
	}
	grace := 72 * time.Hour
	if want := deadline.Expression(setAt.Add(grace)); aws.ToString(s.ScheduleExpression) != want {
		t.Errorf("schedule expression %s, want %s", aws.ToString(s.ScheduleExpression), want)
	}
	ev, err := lambdafn.Classify([]byte(aws.ToString(s.Target.Input)))
	if err != nil || ev.Kind != lambdafn.KindDeadline || ev.Deadline.UserID != id || ev.Deadline.UserName != "alice" {
		t.Errorf("schedule input %s classifies as %+v, %v; want alice's deadline", aws.ToString(s.Target.Input), ev, err)
	}

	// The same event delivered again reuses the schedule and sends no second welcome.
	r = f.mustInvoke(f.fixture("cloudtrail-CreateLoginProfile.json", "alice"))
	if r.Schedule != "deadline unchanged" || r.Warnings != 0 {
		t.Fatalf("duplicate delivery: %+v; want the schedule unchanged and no warning", r)
	}
	if n := count(f.journal(), journal.KindNotify, journal.StatusDone); n != 1 {
		t.Errorf("journal holds %d delivered notifications, want 1", n)
	}
	if !f.hasProfile("alice") {
		t.Error("report mode removed the login profile")
	}

	// Losing the password cancels the deadline; a new one schedules it again.
	if _, err := f.iam.DeleteLoginProfile(context.Background(), &iam.DeleteLoginProfileInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if r = f.mustInvoke(f.fixture("cloudtrail-DeleteLoginProfile.json", "")); r.User != "bob" {
		t.Fatalf("DeleteLoginProfile fixture is about %q, want bob", r.User)
	}
	r = f.mustInvoke([]byte(strings.ReplaceAll(string(f.fixture("cloudtrail-DeleteLoginProfile.json", "")), `"bob"`, `"alice"`)))
	if r.Schedule != "deadline cancelled" {
		t.Fatalf("after DeleteLoginProfile: %+v; want the deadline cancelled", r)
	}
	f.srv.SetPassword("alice", setAt, time.Time{})
	if r = f.mustInvoke(f.fixture("cloudtrail-CreateLoginProfile.json", "alice")); r.Schedule != "deadline created" {
		t.Fatalf("password set again: %+v; want the deadline scheduled again", r)
	}

	// Registering MFA cancels the deadline.
	f.srv.EnableVirtualMFA(f.iam, "alice", "alice-phone")
	r = f.mustInvoke(f.fixture("cloudtrail-EnableMFADevice.json", "alice"))
	if r.Schedule != "deadline cancelled" {
		t.Fatalf("after EnableMFADevice: %+v; want the deadline cancelled", r)
	}
	if _, ok := f.schedule(id); ok {
		t.Error("the deadline schedule is still there")
	}
}

func TestDeadlineInvocationDisablesConsoleOnceInEnforceMode(t *testing.T) {
	f := newFn(t, "enforce")
	id := f.consoleUser("alice", f.now.Add(-time.Hour))
	f.mustInvoke(f.fixture("cloudtrail-CreateLoginProfile.json", "alice"))
	if _, ok := f.schedule(id); !ok {
		t.Fatal("no deadline schedule")
	}

	f.now = f.now.Add(72*time.Hour + time.Minute) // the function's clock: the schedule fired
	payload, err := lambdafn.DeadlineInvocation{AccountID: f.srv.AccountID, UserName: "alice", UserID: id, Deadline: f.now}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	r := f.mustInvoke(payload)
	if r.Event != lambdafn.KindDeadline || r.Done != 1 || f.hasProfile("alice") {
		t.Fatalf("deadline invocation: %+v, profile kept %v; want console access disabled", r, f.hasProfile("alice"))
	}
	if _, ok := f.schedule(id); ok {
		t.Error("the deadline schedule outlived its invocation")
	}
	// Scheduler delivers at least once.
	r = f.mustInvoke(payload)
	if r.Done != 0 {
		t.Fatalf("second delivery: %+v; want nothing done", r)
	}
	if n := count(f.journal(), journal.KindDisableConsole, journal.StatusDone); n != 1 {
		t.Errorf("journal holds %d disable-console changes, want 1", n)
	}
}

func TestDeadlineOfAReplacedUserChangesNothing(t *testing.T) {
	f := newFn(t, "enforce")
	old := f.consoleUser("alice", f.now.Add(-10*day))
	if _, err := f.iam.DeleteLoginProfile(context.Background(), &iam.DeleteLoginProfileInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iam.DeleteUser(context.Background(), &iam.DeleteUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	f.consoleUser("alice", f.now.Add(-10*day))
	payload, err := lambdafn.DeadlineInvocation{AccountID: f.srv.AccountID, UserName: "alice", UserID: old, Deadline: f.now}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	r := f.mustInvoke(payload)
	if r.Done != 0 || !f.hasProfile("alice") {
		t.Fatalf("deadline of the deleted alice acted on the new one: %+v", r)
	}
}

func TestSweepReportsThenEnforcesExactlyOnce(t *testing.T) {
	f := newFn(t, "report")
	f.consoleUser("late", f.now.Add(-10*day)) // past the grace period, created before deployment
	fresh := f.consoleUser("fresh", f.now.Add(-time.Hour))
	if _, err := f.iam.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("robot")}); err != nil {
		t.Fatal(err)
	}
	f.srv.BackdateUser("robot", f.now.Add(-400*day))
	if _, err := f.iam.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("robot")}); err != nil {
		t.Fatal(err)
	}
	key := f.srv.SetAccessKey("robot", "", f.now.Add(-300*day), f.now.Add(-200*day), "s3", "us-east-1")

	sweep := f.fixture("eventbridge-scheduled-event.json", "")
	r := f.mustInvoke(sweep)
	if r.Event != lambdafn.KindSweep || r.Planned != 2 || r.Done != 0 || !f.hasProfile("late") {
		t.Fatalf("report sweep: %+v; want 2 planned, nothing done", r)
	}
	if _, ok := f.schedule(fresh); !ok {
		t.Error("the sweep did not schedule the deadline of the user in a grace period")
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "summary was sent") {
		t.Errorf("report sweep notes %q; want the plan's summary sent", r.Notes)
	}
	// The next report sweep finds the same plan: it tells nobody again.
	if r = f.mustInvoke(sweep); len(r.Notes) != 0 || r.Warnings != 0 {
		t.Errorf("second report sweep: %+v; want no message", r)
	}
	if n := count(f.journal(), journal.KindNotify, journal.StatusDone); n != 2 {
		t.Errorf("journal holds %d delivered messages, want 2 (fresh's welcome and one plan summary)", n)
	}

	f.env[lambdafn.EnvMode] = "enforce"
	r = f.mustInvoke(sweep)
	if r.Done != 2 || f.hasProfile("late") || !f.hasProfile("fresh") || keyActive(t, f, "robot", key) {
		t.Fatalf("enforce sweep: %+v; want late's console and robot's key disabled, fresh kept", r)
	}
	r = f.mustInvoke(f.fixture("scheduler-sweep.json", ""))
	if r.Done != 0 {
		t.Fatalf("second sweep: %+v; want nothing more", r)
	}
}

func keyActive(t *testing.T, f *fn, user, key string) bool {
	t.Helper()
	out, err := f.iam.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == key {
			return k.Status == iamtypes.StatusTypeActive
		}
	}
	t.Fatalf("key of %s not found", user)
	return false
}

func TestEventsThatChangeNothingAreAcknowledged(t *testing.T) {
	f := newFn(t, "enforce")
	f.consoleUser("alice", f.now.Add(-10*day))
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"failed call", f.fixture("cloudtrail-CreateAccessKey-failed.json", "alice"), "failed"},
		{"another account", []byte(strings.ReplaceAll(string(f.fixture("cloudtrail-CreateLoginProfile.json", "alice")), f.srv.AccountID, "210987654321")), "account 210987654321"},
		{"unsubscribed call", f.fixture("cloudtrail-AttachUserPolicy-unsubscribed.json", "alice"), "not an IAM call"},
		{"S3 event", f.fixture("unknown-s3-event.json", ""), ""},
		{"empty object", []byte(`{}`), ""},
		{"not JSON", []byte(`[1,2]`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.invoke(tc.payload)
			if err != nil {
				t.Fatalf("error %v; an event that changes nothing must be acknowledged", err)
			}
			if r.Ignored == "" || !strings.Contains(r.Ignored, tc.want) {
				t.Errorf("ignored %q, want it to say %q", r.Ignored, tc.want)
			}
		})
	}
	if !f.hasProfile("alice") {
		t.Error("an ignored event changed the account")
	}
}

func TestInvalidSettingsFailTheInvocationAndChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown mode", map[string]string{lambdafn.EnvMode: "fix"}, "IAMWARDEN_MODE"},
		{"enforce without a journal", map[string]string{lambdafn.EnvMode: "enforce", lambdafn.EnvJournalTable: ""}, "IAMWARDEN_JOURNAL_TABLE"},
		{"bad max actions", map[string]string{lambdafn.EnvMaxActions: "many"}, "IAMWARDEN_MAX_ACTIONS"},
		{"bad config", map[string]string{lambdafn.EnvConfig: "rules:\n  no-such-rule: {}\n"}, "no-such-rule"},
		{"group without role", map[string]string{lambdafn.EnvSchedulerRoleARN: ""}, "IAMWARDEN_SCHEDULER_ROLE_ARN"},
		{"bad history days", map[string]string{lambdafn.EnvHistoryDays: "-1"}, "IAMWARDEN_HISTORY_DAYS"},
		{"history days not a number", map[string]string{lambdafn.EnvHistoryDays: "3m"}, "IAMWARDEN_HISTORY_DAYS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFn(t, "enforce")
			f.consoleUser("alice", f.now.Add(-10*day))
			for k, v := range tc.env {
				f.env[k] = v
			}
			_, err := f.invoke(f.fixture("eventbridge-scheduled-event.json", ""))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if !strings.Contains(f.logs.String(), tc.want) {
				t.Errorf("no log line names %s:\n%s", tc.want, f.logs)
			}
			if !f.hasProfile("alice") {
				t.Error("an invocation with invalid settings changed the account")
			}
		})
	}
}

func TestConfigRuleEvaluatesEveryUser(t *testing.T) {
	f := newFn(t, "report")
	ctx := context.Background()
	late := f.consoleUser("late", f.now.Add(-10*day))
	exempt := f.consoleUser("breakglass", f.now.Add(-10*day))
	if _, err := f.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("breakglass"), Tags: []iamtypes.Tag{
		{Key: aws.String("iamwarden:exempt-reason"), Value: aws.String("break-glass account, INC-42")},
		{Key: aws.String("iamwarden:exempt-until"), Value: aws.String(f.now.Add(30 * day).Format("2006-01-02"))},
	}}); err != nil {
		t.Fatal(err)
	}
	clean, err := f.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("deploy-bot")})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.EnableVirtualMFA(f.iam, "deploy-bot", "deploy-bot-mfa")

	r := f.mustInvoke(f.fixture("config-scheduled-notification.json", ""))
	if r.Event != lambdafn.KindConfigRule || r.Evaluations != 3 {
		t.Fatalf("response %+v; want 3 evaluations", r)
	}
	got := map[string]mototest.ConfigEvaluation{}
	for _, e := range f.srv.ConfigEvaluations() {
		got[e.ResourceID] = e
	}
	for id, want := range map[string]string{late: "NON_COMPLIANT", exempt: "NOT_APPLICABLE", aws.ToString(clean.User.UserId): "COMPLIANT"} {
		e, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no evaluation for %s", id)
		case e.ComplianceType != want || e.ResourceType != "AWS::IAM::User":
			t.Errorf("%s: %s %s (%s), want %s AWS::IAM::User", id, e.ComplianceType, e.ResourceType, e.Annotation, want)
		case want == "NON_COMPLIANT" && !strings.Contains(e.Annotation, "console-mfa-missing"):
			t.Errorf("annotation %q does not name the rule", e.Annotation)
		case len(e.Annotation) > 256:
			t.Errorf("annotation of %d bytes", len(e.Annotation))
		}
	}
	if !f.hasProfile("late") {
		t.Error("the Config rule changed the account")
	}
}

func TestRemovingTheLastMFADeviceIsCaughtAtOnce(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"report", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			f := newFn(t, mode)
			f.consoleUser("alice", f.now.Add(-200*day))
			f.srv.SetPassword("alice", f.now.Add(-200*day), f.now.Add(-day)) // in use
			serial := f.srv.EnableVirtualMFA(f.iam, "alice", "alice-phone")
			if r := f.mustInvoke(f.fixture("cloudtrail-EnableMFADevice.json", "alice")); r.Planned != 0 || r.Findings != 0 {
				t.Fatalf("with MFA: %+v; want nothing to do", r)
			}
			if _, err := f.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial)}); err != nil {
				t.Fatal(err)
			}
			r := f.mustInvoke(f.fixture("cloudtrail-DeactivateMFADevice.json", "alice"))
			if r.Planned != 1 {
				t.Fatalf("after DeactivateMFADevice: %+v; want console access planned for removal", r)
			}
			if got, want := f.hasProfile("alice"), mode == "report"; got != want {
				t.Errorf("%s mode: login profile kept %v, want %v (response %+v)", mode, got, want, r)
			}
		})
	}
}

// Every IAM event the rule forwards, as CloudTrail writes it, goes through the handler: the user
// it names is judged live, or the event says why it is not.
func TestEveryIAMEventIsHandled(t *testing.T) {
	f := newFn(t, "report")
	ctx := context.Background()
	f.consoleUser("alice", f.now.Add(-time.Hour))
	if _, err := f.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range lambdafn.IAMEventNames() {
		t.Run(name, func(t *testing.T) {
			payload := f.fixture("cloudtrail-"+name+".json", "")
			if name == lambdafn.EventDeleteUser {
				payload = []byte(strings.ReplaceAll(string(payload), `"bob"`, `"gone"`))
			}
			r, err := f.invoke(payload)
			if err != nil {
				t.Fatalf("invoke: %v\n%s", err, f.logs)
			}
			switch name {
			case lambdafn.EventDeleteVirtualMFADevice:
				if !strings.Contains(r.Ignored, "names no user") {
					t.Errorf("response %+v; want it ignored for naming no user", r)
				}
			case lambdafn.EventDeleteUser:
				if r.User != "gone" || !strings.Contains(strings.Join(r.Notes, " "), "no longer exists") {
					t.Errorf("response %+v; want the deleted user noted as gone", r)
				}
			default:
				if r.Ignored != "" || (r.User != "alice" && r.User != "bob") {
					t.Errorf("response %+v; want alice or bob judged", r)
				}
			}
		})
	}
	// The log is JSON lines, each with the invocation's request ID.
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["request_id"] != "req-1" {
			t.Errorf("log line %q has no request_id", line)
		}
	}
}

func TestMFARemovedGraceDefersTheRemovalEverywhere(t *testing.T) {
	ctx := context.Background()
	f := newFn(t, "enforce")
	f.env[lambdafn.EnvMFARemovedGrace] = "24h"
	id := f.consoleUser("alice", f.now.Add(-200*day))
	f.srv.SetPassword("alice", f.now.Add(-200*day), f.now.Add(-day))
	serial := f.srv.EnableVirtualMFA(f.iam, "alice", "alice-phone")
	if _, err := f.iam.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String("alice"), SerialNumber: aws.String(serial)}); err != nil {
		t.Fatal(err)
	}
	removed := f.now.Add(-time.Minute)
	event := strings.ReplaceAll(string(f.fixture("cloudtrail-DeactivateMFADevice.json", "alice")), "2026-12-04T14:40:00Z", removed.Format(time.RFC3339))

	r := f.mustInvoke([]byte(event))
	if r.Done != 0 || !f.hasProfile("alice") || r.Schedule != "deadline created" || r.Warnings != 1 {
		t.Fatalf("removal with a grace period: %+v; want no change, a deadline and a warning", r)
	}
	s, ok := f.schedule(id)
	if !ok || aws.ToString(s.ScheduleExpression) != deadline.Expression(removed.Add(24*time.Hour)) {
		t.Fatalf("schedule %v, want one at the removal plus 24h", s)
	}
	// A duplicate delivery grants nothing more; an enforce sweep honours the grant.
	f.mustInvoke([]byte(event))
	if r := f.mustInvoke(f.fixture("eventbridge-scheduled-event.json", "")); r.Done != 0 || !f.hasProfile("alice") {
		t.Fatalf("sweep inside the grace period: %+v; want alice left alone", r)
	}
	if n := count(f.journal(), journal.KindGraceGranted, journal.StatusDone); n != 1 {
		t.Errorf("journal holds %d grants, want 1", n)
	}

	f.now = removed.Add(24*time.Hour + time.Second) // the deadline schedule fires
	payload, err := lambdafn.DeadlineInvocation{AccountID: f.srv.AccountID, UserName: "alice", UserID: id, Deadline: removed.Add(24 * time.Hour)}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if r := f.mustInvoke(payload); r.Done != 1 || f.hasProfile("alice") {
		t.Fatalf("at the deadline: %+v; want console access disabled", r)
	}
}

func TestEveryInvocationWritesItsMetrics(t *testing.T) {
	f := newFn(t, "enforce")
	metrics := &logBuffer{}
	f.h.Metrics = metrics
	f.consoleUser("late", f.now.Add(-10*day))
	r := f.mustInvoke(f.fixture("eventbridge-scheduled-event.json", ""))
	var rec struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Event, Mode string
		Done        int
		Findings    int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(metrics.String())), &rec); err != nil {
		t.Fatalf("metrics %q: %v", metrics.String(), err)
	}
	m := rec.AWS.CloudWatchMetrics
	if len(m) != 1 || m[0].Namespace != lambdafn.MetricsNamespace || len(m[0].Metrics) == 0 || rec.AWS.Timestamp != f.now.UnixMilli() {
		t.Fatalf("record %+v is not an embedded metric record of namespace %s", rec, lambdafn.MetricsNamespace)
	}
	if rec.Event != "sweep" || rec.Mode != "enforce" || rec.Done != r.Done || rec.Done != 1 || rec.Findings != r.Findings {
		t.Errorf("metrics %+v, response %+v", rec, r)
	}
}
