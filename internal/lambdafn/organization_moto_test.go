package lambdafn_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/lambdafn"
)

const hubExternalID = "hub-external-id"

// hub is the function deployed as an organization's hub in the management account of a moto
// organization, with members that have the member roles (good) and one that has not (bad).
type hub struct {
	*fn
	queue, dlq string
	good, bad  []string
}

func newHub(t *testing.T, mode string, good, bad int) *hub {
	t.Helper()
	f := newFn(t, mode)
	ctx := context.Background()
	// The hub's own credentials, without the account header, so that what it gets from
	// AssumeRole reaches the members (see mototest.UserConfig).
	f.h.AWS = f.srv.UserConfig(ctx, "hub")
	oc := organizations.NewFromConfig(f.cfg)
	if _, err := oc.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	h := &hub{fn: f}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + f.srv.AccountID +
		`:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + hubExternalID + `"}}}]}`
	for i := range good + bad {
		out, err := oc.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("member-" + strconv.Itoa(i)),
			Email: aws.String("member" + strconv.Itoa(i) + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		m := f.srv.Account(id)
		c := iam.NewFromConfig(m.Config(ctx))
		m.ConsoleUser(c, "late", f.now.Add(-10*day))
		if i >= good {
			h.bad = append(h.bad, id)
			continue
		}
		h.good = append(h.good, id)
		for _, role := range []string{"iamwarden-audit", "iamwarden-enforce"} {
			if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	qc := sqs.NewFromConfig(f.cfg)
	dlq, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("iamwarden-accounts-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	redrive := `{"deadLetterTargetArn":"` + attrs.Attributes["QueueArn"] + `","maxReceiveCount":"2"}`
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("iamwarden-accounts"),
		Attributes: map[string]string{"RedrivePolicy": redrive}})
	if err != nil {
		t.Fatal(err)
	}
	h.queue, h.dlq = aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
	f.env[lambdafn.EnvOrganization] = "true"
	f.env[lambdafn.EnvAccountQueueURL] = h.queue
	f.env[lambdafn.EnvExternalID] = hubExternalID
	// The hub's journal, written through the hub's own credentials.
	f.h.Journal = func(table string) (journal.Journal, error) {
		return dynamo.New(dynamotest.Serial{Mu: f.mu, Client: dynamodb.NewFromConfig(f.h.AWS)}, table)
	}
	return h
}

// drain plays the event source mapping: it receives batches from the account queue, invokes
// the function with each, and deletes the messages the response does not name as failed; a
// failed message comes back until the queue's redrive moves it to the dead-letter queue.
func (h *hub) drain() (invocations int) {
	h.t.Helper()
	ctx := context.Background()
	qc := sqs.NewFromConfig(h.cfg)
	for range 20 {
		out, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.queue), MaxNumberOfMessages: 5,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return invocations
		}
		ev := events.SQSEvent{}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", AWSRegion: "us-east-1",
				EventSourceARN: "arn:aws:sqs:us-east-1:" + h.srv.AccountID + ":iamwarden-accounts"})
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			h.t.Fatal(err)
		}
		r := h.mustInvoke(payload)
		invocations++
		failed := map[string]bool{}
		for _, f := range r.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range out.Messages {
			var err error
			if failed[aws.ToString(m.MessageId)] {
				// Visible again at once, as it would be after its visibility timeout.
				_, err = qc.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(h.queue), ReceiptHandle: m.ReceiptHandle})
			} else {
				_, err = qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(h.queue), ReceiptHandle: m.ReceiptHandle})
			}
			if err != nil {
				h.t.Fatal(err)
			}
		}
	}
	h.t.Fatal("the account queue never emptied")
	return invocations
}

func (h *hub) deadLetters() []string {
	h.t.Helper()
	out, err := sqs.NewFromConfig(h.cfg).ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(h.dlq), MaxNumberOfMessages: 10})
	if err != nil {
		h.t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}

// changes counts the console access the hub's journal says it removed, in every account.
func (h *hub) changes() int {
	h.t.Helper()
	j, err := dynamo.New(dynamotest.Serial{Mu: h.mu, Client: dynamodb.NewFromConfig(h.cfg)}, "iamwarden-journal")
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, id := range append(append([]string{}, h.good...), h.bad...) {
		es, err := j.List(context.Background(), journal.Filter{AccountID: id})
		if err != nil {
			h.t.Fatal(err)
		}
		n += count(es, journal.KindDisableConsole, journal.StatusDone)
	}
	return n
}

func (h *hub) consoleKept(account string) bool {
	h.t.Helper()
	c := iam.NewFromConfig(h.srv.Account(account).Config(context.Background()))
	_, err := c.GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String("late")})
	return err == nil
}

func TestOrganizationSweepFansOutAndAFailingAccountLandsInTheDeadLetterQueue(t *testing.T) {
	h := newHub(t, "enforce", 4, 1)
	r := h.mustInvoke(h.fixture("eventbridge-scheduled-event.json", ""))
	// Every member and the management account itself.
	if r.Event != lambdafn.KindSweep || r.Accounts != 6 {
		t.Fatalf("sweep: %+v; want 6 accounts fanned out", r)
	}
	h.drain()
	for _, id := range h.good {
		if h.consoleKept(id) {
			t.Errorf("account %s: late keeps console access after the organization sweep", id)
		}
	}
	if !h.consoleKept(h.bad[0]) {
		t.Error("the account without its role was changed")
	}
	dead := h.deadLetters()
	if len(dead) != 1 || !strings.Contains(dead[0], h.bad[0]) {
		t.Fatalf("dead letters %v; want exactly the account without its role (%s)", dead, h.bad[0])
	}
	if n := h.changes(); n != len(h.good) {
		t.Errorf("journal holds %d disable-console changes, want %d", n, len(h.good))
	}

	// Each account swept is recorded in the hub's journal table under its own ID.
	if got := h.records(); len(got) != len(h.good)+1 {
		t.Errorf("records per account %v; want one for each of the %d accounts swept", got, len(h.good)+1)
	}

	// The next sweep changes nothing more.
	h.mustInvoke(h.fixture("scheduler-sweep.json", ""))
	h.drain()
	if n := h.changes(); n != len(h.good) {
		t.Errorf("after a second sweep the journal holds %d changes, want %d", n, len(h.good))
	}
	for id, n := range h.records() {
		if n != 2 {
			t.Errorf("account %s has %d records after two sweeps, want 2", id, n)
		}
	}
}

// records counts the history records of each account in the hub's journal table.
func (h *hub) records() map[string]int {
	h.t.Helper()
	j, err := dynamo.New(dynamotest.Serial{Mu: h.mu, Client: dynamodb.NewFromConfig(h.cfg)}, "iamwarden-journal")
	if err != nil {
		h.t.Fatal(err)
	}
	runs, err := j.ListRuns(context.Background(), journal.RunFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range runs {
		out[r.AccountID]++
	}
	return out
}

func TestHubJudgesAMemberAccountsEventThroughItsRole(t *testing.T) {
	h := newHub(t, "enforce", 1, 0)
	member := h.good[0]
	event := strings.ReplaceAll(string(h.fixture("cloudtrail-DeactivateMFADevice.json", "late")), h.srv.AccountID, member)
	r := h.mustInvoke([]byte(event))
	if r.Done != 1 || h.consoleKept(member) {
		t.Fatalf("member's event: %+v; want late's console access disabled in account %s", r, member)
	}
}

func TestHubImportsEachMembersFindingsIntoItsSecurityHub(t *testing.T) {
	h := newHub(t, "report", 2, 0)
	h.env[lambdafn.EnvSecurityHub] = "true"
	h.mustInvoke(h.fixture("eventbridge-scheduled-event.json", ""))
	h.drain()
	for _, id := range h.good {
		out, err := securityhub.NewFromConfig(h.srv.Account(id).Config(context.Background())).GetFindings(context.Background(), &securityhub.GetFindingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Findings) == 0 {
			t.Errorf("account %s: no finding imported", id)
		}
		for _, f := range out.Findings {
			if aws.ToString(f.AwsAccountId) != id {
				t.Errorf("account %s holds a finding of account %s", id, aws.ToString(f.AwsAccountId))
			}
		}
		if !h.consoleKept(id) {
			t.Errorf("report mode changed account %s", id)
		}
	}
}
