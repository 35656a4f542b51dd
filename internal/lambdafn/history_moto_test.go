package lambdafn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/lambdafn"
)

// subscribe subscribes a new SQS queue to the function's topic, with raw delivery: each
// message's body is the notification's text. It returns a function that takes the messages
// delivered so far.
func (f *fn) subscribe() func() []string {
	f.t.Helper()
	ctx := context.Background()
	qc := sqs.NewFromConfig(f.cfg)
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("notifications-" + strings.ReplaceAll(f.t.Name(), "/", "-"))})
	if err != nil {
		f.t.Fatal(err)
	}
	a, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := sns.NewFromConfig(f.cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(f.env[lambdafn.EnvSNSTopicARN]),
		Protocol: aws.String("sqs"), Endpoint: aws.String(a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		f.t.Fatal(err)
	}
	return func() []string {
		f.t.Helper()
		var out []string
		for {
			r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil {
				f.t.Fatal(err)
			}
			if len(r.Messages) == 0 {
				return out
			}
			for _, m := range r.Messages {
				out = append(out, aws.ToString(m.Body))
				if _, err := qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					f.t.Fatal(err)
				}
			}
		}
	}
}

// summaries keeps the run summaries of messages.
func summaries(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if strings.Contains(m, "was judged at") || strings.Contains(m, "finished at") {
			out = append(out, m)
		}
	}
	return out
}

// records reads the run records of the function's account from the journal table.
func (f *fn) records() []journal.Run {
	f.t.Helper()
	j, err := f.h.Journal(f.env[lambdafn.EnvJournalTable])
	if err != nil {
		f.t.Fatal(err)
	}
	runs, ok := j.(journal.RunStore)
	if !ok {
		f.t.Fatalf("journal %T keeps no runs", j)
	}
	rs, err := runs.ListRuns(context.Background(), journal.RunFilter{AccountID: f.srv.AccountID})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func (f *fn) record(id string) *history.Record {
	f.t.Helper()
	j, err := f.h.Journal(f.env[lambdafn.EnvJournalTable])
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := history.Of(j, time.Now)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := h.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func TestReportSweepsRecordAndSayWhatChanged(t *testing.T) {
	f := newFn(t, "report")
	messages := f.subscribe()
	f.consoleUser("late", f.now.Add(-10*day))
	sweep := f.fixture("eventbridge-scheduled-event.json", "")

	r := f.mustInvoke(sweep)
	sums := summaries(messages())
	if len(sums) != 1 || !strings.Contains(sums[0], "first recorded sweep") || !strings.Contains(sums[0], "late") {
		t.Fatalf("first sweep sent %q; want one summary saying it is the first and listing late", sums)
	}
	recs := f.records()
	if len(recs) != 1 || recs[0].ID != r.HistoryID || recs[0].Kind != string(history.KindScan) {
		t.Fatalf("records %+v after the first sweep (response %+v); want its scan", recs, r)
	}
	if want := recs[0].RecordedAt.Add(lambdafn.DefaultHistoryDays * day); !recs[0].ExpiresAt.Equal(want) {
		t.Errorf("record expires %v, want %v (%d days)", recs[0].ExpiresAt, want, lambdafn.DefaultHistoryDays)
	}
	if rec := f.record(r.HistoryID); rec.Source != history.SourceLambda || len(rec.Result.Findings) == 0 {
		t.Errorf("record %+v; want the sweep's findings, recorded by the Lambda", rec)
	}

	// Nothing changed: recorded, and nobody told.
	f.now = f.now.Add(time.Hour)
	if r = f.mustInvoke(sweep); len(r.Notes) != 0 {
		t.Errorf("unchanged sweep notes %q; want none", r.Notes)
	}
	if msgs := messages(); len(msgs) != 0 {
		t.Errorf("unchanged sweep sent %q", msgs)
	}
	if n := len(f.records()); n != 2 {
		t.Fatalf("%d records after two sweeps, want 2", n)
	}

	// late registers MFA; newbie arrives without.
	f.srv.EnableVirtualMFA(f.iam, "late", "late-phone")
	f.consoleUser("newbie", f.now.Add(-10*day))
	f.now = f.now.Add(time.Hour)
	f.mustInvoke(sweep)
	sums = summaries(messages())
	if len(sums) != 1 {
		t.Fatalf("sweep after changes sent %d summaries, want 1", len(sums))
	}
	for _, want := range []string{"Since the previous sweep", "New:      2", "Resolved: 2", "newbie", "new → violation",
		"late", "violation → resolved", "Actions new since the previous sweep"} {
		if !strings.Contains(sums[0], want) {
			t.Errorf("summary lacks %q:\n%s", want, sums[0])
		}
	}
	if strings.Contains(sums[0], "first recorded sweep") {
		t.Errorf("a third sweep says it is the first:\n%s", sums[0])
	}

	// Two sweeps at once after one more change send one summary.
	f.consoleUser("third", f.now.Add(-10*day))
	f.now = f.now.Add(time.Hour)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.invoke(sweep); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if sums := summaries(messages()); len(sums) != 1 || !strings.Contains(sums[0], "third") {
		t.Errorf("two sweeps at once sent %d summaries (%q), want 1 naming third", len(sums), sums)
	}
	if n := len(f.records()); n != 5 {
		t.Errorf("%d records after five sweeps, want 5", n)
	}
}

func TestEnforceSweepsRecordTheirRuns(t *testing.T) {
	f := newFn(t, "enforce")
	messages := f.subscribe()
	f.consoleUser("late", f.now.Add(-10*day))
	sweep := f.fixture("eventbridge-scheduled-event.json", "")

	r := f.mustInvoke(sweep)
	if r.Done != 1 {
		t.Fatalf("enforce sweep: %+v; want late's console disabled", r)
	}
	sums := summaries(messages())
	if len(sums) != 1 || !strings.Contains(sums[0], "first recorded sweep") || !strings.Contains(sums[0], "done") {
		t.Fatalf("first enforce sweep sent %q; want one summary of the run", sums)
	}
	rec := f.record(r.HistoryID)
	if rec.Kind != history.KindEnforce || rec.Actions == nil || rec.Actions.Done != 1 || rec.Actions.DryRun {
		t.Fatalf("record %+v (actions %+v); want an enforce run with one action done", rec, rec.Actions)
	}

	// late is fixed: the next sweep finds the violation resolved, does nothing, and says so.
	f.now = f.now.Add(time.Hour)
	r = f.mustInvoke(sweep)
	sums = summaries(messages())
	if r.Done != 0 || len(sums) != 1 || !strings.Contains(sums[0], "violation → resolved") || !strings.Contains(sums[0], "No action is planned.") {
		t.Fatalf("second sweep: %+v, summaries %q; want nothing done and late's violation resolved", r, sums)
	}
	// Then nothing changes: no summary.
	f.now = f.now.Add(time.Hour)
	if r = f.mustInvoke(sweep); r.Done != 0 || len(summaries(messages())) != 0 {
		t.Fatalf("third sweep: %+v; want nothing done and no summary", r)
	}
	if n := len(f.records()); n != 3 {
		t.Errorf("%d records after three sweeps, want 3", n)
	}

	// A sweep that finds another run holding the lease records nothing.
	j, err := f.h.Journal(f.env[lambdafn.EnvJournalTable])
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Acquire(context.Background(), journal.Lease{AccountID: f.srv.AccountID, RunID: "other-run", Actor: "someone",
		Acquired: f.now, Expires: f.now.Add(time.Hour)}, f.now); err != nil {
		t.Fatal(err)
	}
	if r = f.mustInvoke(sweep); !strings.Contains(r.Ignored, "lease") {
		t.Fatalf("sweep under another run's lease: %+v; want it skipped", r)
	}
	if n := len(f.records()); n != 3 {
		t.Errorf("%d records after a skipped sweep, want 3", n)
	}
}

// failingRuns is a journal table that refuses run records.
type failingRuns struct {
	journal.Journal
	journal.RunStore
}

func (failingRuns) PutRun(context.Context, journal.Run) error {
	return errors.New("AccessDeniedException: not authorized to perform dynamodb:PutItem")
}

func TestSweepFailsWhenItCannotBeRecorded(t *testing.T) {
	f := newFn(t, "report")
	f.consoleUser("late", f.now.Add(-10*day))
	open := f.h.Journal
	f.h.Journal = func(table string) (journal.Journal, error) {
		j, err := open(table)
		if err != nil {
			return nil, err
		}
		return failingRuns{j, j.(journal.RunStore)}, nil
	}
	_, err := f.invoke(f.fixture("eventbridge-scheduled-event.json", ""))
	if err == nil || !strings.Contains(err.Error(), "not recorded in the history") || !strings.Contains(err.Error(), "dynamodb:PutItem") {
		t.Fatalf("error %v; want the invocation failed for the record", err)
	}
	// The sweep's work was done first: its summary is journaled as sent.
	if n := count(f.journal(), journal.KindNotify, journal.StatusDone); n != 1 {
		t.Errorf("journal holds %d delivered messages, want the summary", n)
	}
}

func TestReportSweepWithoutAJournalTable(t *testing.T) {
	f := newFn(t, "report")
	delete(f.env, lambdafn.EnvJournalTable)
	delete(f.env, lambdafn.EnvScheduleGroup)
	delete(f.env, lambdafn.EnvSchedulerRoleARN)
	f.consoleUser("late", f.now.Add(-10*day))
	r := f.mustInvoke(f.fixture("eventbridge-scheduled-event.json", ""))
	if r.Planned != 1 || !strings.Contains(strings.Join(r.Notes, "\n"), "history and change summaries need IAMWARDEN_JOURNAL_TABLE") {
		t.Fatalf("response %+v; want the sweep done and a note that history needs the journal table", r)
	}
	if !strings.Contains(f.logs.String(), `"level":"WARN","msg":"history and change summaries need IAMWARDEN_JOURNAL_TABLE`) {
		t.Errorf("no WARN line about the history:\n%s", f.logs)
	}
	f.env[lambdafn.EnvJournalTable] = "iamwarden-journal"
	if n := len(f.records()); n != 0 {
		t.Errorf("%d records without a journal table", n)
	}
}

// denyAction answers one IAM query action with AccessDenied, as a role without its permission
// gets; every other request goes on.
type denyAction struct {
	next   aws.HTTPClient
	action string
}

func (d denyAction) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(string(body), "Action="+d.action+"&") {
			return &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Content-Type": {"text/xml"}}, Request: r,
				Body: io.NopCloser(strings.NewReader(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>` +
					`<Message>not authorized to perform iam:` + d.action + `</Message></Error><RequestId>1</RequestId></ErrorResponse>`))}, nil
		}
	}
	return d.next.Do(r)
}

func TestPartialSweepCallsNothingResolved(t *testing.T) {
	ctx := context.Background()
	f := newFn(t, "report")
	messages := f.subscribe()
	f.consoleUser("late", f.now.Add(-10*day))
	f.consoleUser("gone", f.now.Add(-10*day))
	sweep := f.fixture("eventbridge-scheduled-event.json", "")
	f.mustInvoke(sweep)
	messages()

	// gone is deleted, and the next sweep cannot read the account's aliases: it is partial.
	if _, err := f.iam.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	f.h.AWS.HTTPClient = denyAction{next: f.h.AWS.HTTPClient, action: "ListAccountAliases"}
	f.now = f.now.Add(time.Hour)
	r := f.mustInvoke(sweep)
	if !r.Partial {
		t.Fatalf("sweep without the aliases: %+v; want it partial", r)
	}
	sums := summaries(messages())
	if len(sums) != 1 {
		t.Fatalf("partial sweep sent %d summaries, want 1", len(sums))
	}
	for _, want := range []string{"changes may be incomplete", "Resolved: 0", "Unseen:   2", "gone", "violation → unseen"} {
		if !strings.Contains(sums[0], want) {
			t.Errorf("summary lacks %q:\n%s", want, sums[0])
		}
	}
	if strings.Contains(sums[0], "→ resolved") {
		t.Errorf("a partial sweep calls a finding resolved:\n%s", sums[0])
	}
	if rec := f.record(r.HistoryID); !rec.Result.Partial {
		t.Error("the partial sweep's record is not marked partial")
	}
}
