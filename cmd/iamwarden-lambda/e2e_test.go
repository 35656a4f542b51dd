package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/lambdafn"
	"github.com/iamwarden/iamwarden/internal/lambdafn/runtimeapi"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

const (
	day   = 24 * time.Hour
	table = "iamwarden-journal"
	group = "iamwarden-deadlines"
)

// account is the moto account the function is deployed in, with what its stack creates.
type account struct {
	t     *testing.T
	srv   *mototest.Server
	cfg   aws.Config
	iam   *iam.Client
	env   []string // the function's AWS credentials and endpoint
	topic string
	now   time.Time
}

func newAccount(t *testing.T) *account {
	t.Helper()
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	a := &account{t: t, srv: srv, cfg: cfg, iam: iam.NewFromConfig(cfg), now: time.Now().UTC().Truncate(time.Second)}
	if _, err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table); err != nil {
		t.Fatal(err)
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("iamwarden")})
	if err != nil {
		t.Fatal(err)
	}
	a.topic = aws.ToString(topic.TopicArn)
	if _, err := scheduler.NewFromConfig(cfg).CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	// The function runs as its role: credentials from STS, which moto ties to the account.
	role, err := a.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("iamwarden-function"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("iamwarden")})
	if err != nil {
		t.Fatal(err)
	}
	a.env = []string{
		"AWS_ACCESS_KEY_ID=" + aws.ToString(creds.Credentials.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY=" + aws.ToString(creds.Credentials.SecretAccessKey),
		"AWS_SESSION_TOKEN=" + aws.ToString(creds.Credentials.SessionToken),
		"AWS_ENDPOINT_URL=" + serialDynamoDB(t, srv.Endpoint),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return a
}

// serialDynamoDB is a proxy to moto that lets one DynamoDB request through at a time: moto
// checks a conditional write's condition and makes the write in separate steps, which AWS does
// atomically. Everything else passes at once.
func serialDynamoDB(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
			mu.Lock()
			defer mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// function is the built bootstrap running against a Runtime API served by the test, with
// processes in the given mode.
type function struct {
	t   *testing.T
	api *runtimeapi.Server
}

// deploy starts processes of the bootstrap in mode against a Runtime API of their own.
func (a *account) deploy(bootstrap, mode string, processes int) *function {
	a.t.Helper()
	api := runtimeapi.New(a.t, runtimeapi.Options{FunctionName: "iamwarden",
		FunctionARN: "arn:aws:lambda:us-east-1:" + a.srv.AccountID + ":function:iamwarden", Timeout: 2 * time.Minute})
	env := append([]string{
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		lambdafn.EnvMode + "=" + mode,
		lambdafn.EnvJournalTable + "=" + table,
		lambdafn.EnvSNSTopicARN + "=" + a.topic,
		lambdafn.EnvScheduleGroup + "=" + group,
		lambdafn.EnvSchedulerRoleARN + "=arn:aws:iam::" + a.srv.AccountID + ":role/iamwarden-scheduler",
		lambdafn.EnvGrace + "=72h",
	}, a.env...)
	for range processes {
		runtimeapi.Start(a.t, bootstrap, api, env)
	}
	return &function{t: a.t, api: api}
}

func (f *function) invoke(payload []byte) lambdafn.Response {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := f.api.Invoke(ctx, payload)
	if err != nil {
		f.t.Fatalf("invoke: %v", err)
	}
	if res.Err != nil {
		f.t.Fatalf("the function failed: %s: %s", res.Err.Type, res.Err.Message)
	}
	var r lambdafn.Response
	if err := json.Unmarshal(res.Body, &r); err != nil {
		f.t.Fatalf("response %s: %v", res.Body, err)
	}
	return r
}

func (a *account) fixture(name, user string) []byte {
	a.t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "lambdafn", "testdata", "events", name))
	if err != nil {
		a.t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("123456789012"), []byte(a.srv.AccountID))
	if user != "" {
		b = bytes.ReplaceAll(b, []byte(`"alice"`), []byte(`"`+user+`"`))
	}
	return b
}

func (a *account) consoleUser(name string, setAt time.Time) string {
	a.t.Helper()
	return a.srv.ConsoleUser(a.iam, name, setAt)
}

func (a *account) staleKey(name string) string {
	a.t.Helper()
	ctx := context.Background()
	if _, err := a.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		a.t.Fatal(err)
	}
	a.srv.BackdateUser(name, a.now.Add(-400*day))
	if _, err := a.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)}); err != nil {
		a.t.Fatal(err)
	}
	return a.srv.SetAccessKey(name, "", a.now.Add(-300*day), a.now.Add(-200*day), "s3", "us-east-1")
}

// state is what the function may change: who has a console password, which keys are active.
func (a *account) state() string {
	a.t.Helper()
	ctx := context.Background()
	users, err := a.iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		a.t.Fatal(err)
	}
	var b strings.Builder
	for _, u := range users.Users {
		name := aws.ToString(u.UserName)
		_, err := a.iam.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: u.UserName})
		fmt.Fprintf(&b, "%s console=%v", name, err == nil)
		keys, err := a.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
		if err != nil {
			a.t.Fatal(err)
		}
		for _, k := range keys.AccessKeyMetadata {
			fmt.Fprintf(&b, " key=%v", k.Status == iamtypes.StatusTypeActive)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (a *account) changes() map[string]int {
	a.t.Helper()
	j, err := dynamo.New(dynamotest.NewSerial(dynamodb.NewFromConfig(a.cfg)), table)
	if err != nil {
		a.t.Fatal(err)
	}
	es, err := j.List(context.Background(), journal.Filter{AccountID: a.srv.AccountID})
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range es {
		if e.Kind != journal.KindNotify && e.Status == journal.StatusDone {
			out[string(e.Kind)+" "+e.Principal]++
		}
	}
	return out
}

// records counts the account's history records by kind.
func (a *account) records() map[string]int {
	a.t.Helper()
	j, err := dynamo.New(dynamotest.NewSerial(dynamodb.NewFromConfig(a.cfg)), table)
	if err != nil {
		a.t.Fatal(err)
	}
	runs, err := j.ListRuns(context.Background(), journal.RunFilter{AccountID: a.srv.AccountID})
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range runs {
		out[r.Kind]++
	}
	return out
}

func TestBootstrapEndToEnd(t *testing.T) {
	a := newAccount(t)
	fresh := a.consoleUser("fresh", a.now.Add(-time.Hour))
	a.consoleUser("late", a.now.Add(-10*day))
	a.staleKey("robot")

	bootstrap := runtimeapi.BuildBootstrap(t, "github.com/iamwarden/iamwarden/cmd/iamwarden-lambda")
	report := a.deploy(bootstrap, "report", 1)
	r := report.invoke(a.fixture("cloudtrail-CreateLoginProfile.json", "fresh"))
	if r.Schedule != "deadline created" || r.Warnings != 1 {
		t.Fatalf("CreateLoginProfile: %+v; want fresh's deadline scheduled and welcomed", r)
	}
	if _, err := scheduler.NewFromConfig(a.cfg).GetSchedule(context.Background(), &scheduler.GetScheduleInput{
		GroupName: aws.String(group), Name: aws.String("iamwarden-" + a.srv.AccountID + "-" + fresh)}); err != nil {
		t.Fatalf("fresh's deadline schedule: %v", err)
	}

	before := a.state()
	r = report.invoke(a.fixture("eventbridge-scheduled-event.json", ""))
	if r.Planned != 2 || r.Done != 0 || a.state() != before {
		t.Fatalf("report sweep: %+v; want 2 planned and nothing changed:\nbefore\n%s\nafter\n%s", r, before, a.state())
	}
	if got := a.records(); !maps.Equal(got, map[string]int{"scan": 1}) || r.HistoryID == "" {
		t.Fatalf("history after the report sweep: %v (response %+v); want its scan", got, r)
	}

	enforce := a.deploy(bootstrap, "enforce", 2)
	r = enforce.invoke(a.fixture("eventbridge-scheduled-event.json", ""))
	want := map[string]int{"disable-console late": 1, "deactivate-key robot": 1}
	if r.Done != 2 || !maps.Equal(a.changes(), want) {
		t.Fatalf("enforce sweep: %+v, journal %v; want %v", r, a.changes(), want)
	}
	after := a.state()
	if !strings.Contains(after, "fresh console=true") || !strings.Contains(after, "late console=false") || !strings.Contains(after, "robot console=false key=false") {
		t.Fatalf("after the enforce sweep:\n%s", after)
	}
	r = enforce.invoke(a.fixture("eventbridge-scheduled-event.json", ""))
	if r.Done != 0 || a.state() != after {
		t.Fatalf("the same sweep again: %+v; want nothing more", r)
	}
	if got := a.records(); !maps.Equal(got, map[string]int{"scan": 1, "enforce": 2}) {
		t.Fatalf("history after two enforce sweeps: %v; want the report scan and both runs", got)
	}

	// Two sweeps at once, in two processes, over two new violations: each change is made once.
	a.consoleUser("late2", a.now.Add(-10*day))
	a.staleKey("robot2")
	var wg sync.WaitGroup
	results := make([]lambdafn.Response, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = enforce.invoke(a.fixture("scheduler-sweep.json", ""))
		}()
	}
	wg.Wait()
	want["disable-console late2"], want["deactivate-key robot2"] = 1, 1
	if done := results[0].Done + results[1].Done; done != 2 || !maps.Equal(a.changes(), want) {
		t.Fatalf("two sweeps at once: %+v, journal %v; want 2 changes in all, %v", results, a.changes(), want)
	}
	ran := 0
	for _, r := range results {
		if r.Ignored == "" {
			ran++
		}
	}
	if got := a.records()["enforce"]; got != 2+ran {
		t.Errorf("%d enforce records after %d more sweeps that ran, want %d: a sweep skipped for the lease records nothing", got, ran, 2+ran)
	}

	r = report.invoke(a.fixture("config-scheduled-notification.json", ""))
	evs := a.srv.ConfigEvaluations()
	if r.Evaluations != 5 || len(evs) != 5 {
		t.Fatalf("Config rule: %+v, %d evaluations recorded; want 5", r, len(evs))
	}
	for _, e := range evs {
		if e.ResourceType != "AWS::IAM::User" || e.ComplianceType == "" {
			t.Errorf("evaluation %+v", e)
		}
	}
}
