package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/notify"
)

// envelope is the JSON an SQS subscription without raw message delivery receives.
type envelope struct {
	Type              string
	MessageId         string
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

type sent struct {
	name                    string
	id, subject, body       string
	attrs                   map[string]string
	wantRunes, wantEllipsis bool
}

// subjectEvent is an action-done event whose rendered subject, before any cut, has n runes; the
// user name is made of multi-byte runes so a cut on a byte boundary would break UTF-8.
func subjectEvent(t *testing.T, n int) notify.Event {
	t.Helper()
	e := notify.Event{Kind: notify.KindActionDone, AccountID: "111122223333", Action: notify.ActionDisableConsole,
		Rule: notify.RuleConsoleMFAMissing, Severity: "high", At: at, ActionID: "act-subject"}
	e.Principal = "ü"
	s, _, _ := notify.Render(e)
	e.Principal = strings.Repeat("ü", n-utf8.RuneCountInString(s)+1)
	return e
}

func TestPublishThroughSNSToSQS(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(ctx)
	snsc, sqsc := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

	topicOut, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("iamwarden-notifications")})
	if err != nil {
		t.Fatal(err)
	}
	topicARN := aws.ToString(topicOut.TopicArn)

	queues := map[bool]string{} // raw message delivery -> queue URL
	for _, raw := range []bool{false, true} {
		q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("notifications-raw-%v", raw))})
		if err != nil {
			t.Fatal(err)
		}
		a, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"),
			Endpoint: aws.String(a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := snsc.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn,
			AttributeName: aws.String("RawMessageDelivery"), AttributeValue: aws.String(fmt.Sprint(raw))}); err != nil {
			t.Fatal(err)
		}
		queues[raw] = aws.ToString(q.QueueUrl)
	}

	events := fixtures()
	events = append(events,
		struct {
			name string
			e    notify.Event
		}{"subject exactly 100 runes", subjectEvent(t, notify.MaxSubjectRunes)},
		struct {
			name string
			e    notify.Event
		}{"subject over 100 runes", subjectEvent(t, notify.MaxSubjectRunes+1)},
		struct {
			name string
			e    notify.Event
		}{"unicode user name", notify.Event{Kind: notify.KindGraceStarted, AccountID: "111122223333", Principal: "Zoë.ユーザー",
			Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, At: at, Deadline: deadline}},
	)
	pub := notify.NewPublisher(snsc, notify.Options{})
	var want []sent
	for _, ev := range events {
		id, err := pub.Publish(ctx, topicARN, ev.e)
		if err != nil {
			t.Fatalf("%s: Publish: %v", ev.name, err)
		}
		subject, body, attrs := notify.Render(ev.e)
		want = append(want, sent{name: ev.name, id: id, subject: subject, body: body, attrs: attrs})
	}
	if s := want[len(want)-3].subject; utf8.RuneCountInString(s) != 100 || strings.HasSuffix(s, "…") {
		t.Fatalf("subject meant to be exactly 100 runes is %d runes: %q", utf8.RuneCountInString(s), s)
	}
	if s := want[len(want)-2].subject; utf8.RuneCountInString(s) != 100 || !strings.HasSuffix(s, "…") {
		t.Fatalf("subject meant to be cut is %d runes: %q", utf8.RuneCountInString(s), s)
	}

	t.Run("envelope", func(t *testing.T) {
		msgs := receiveAll(t, sqsc, queues[false], len(want))
		byID := map[string]envelope{}
		for _, m := range msgs {
			checkNoRawKey(t, m)
			var env envelope
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatalf("body is not an SNS envelope: %v", err)
			}
			byID[env.MessageId] = env
		}
		for _, w := range want {
			env, ok := byID[w.id]
			if !ok {
				t.Errorf("%s: message %s not delivered", w.name, w.id)
				continue
			}
			if env.Type != "Notification" || env.TopicArn != topicARN {
				t.Errorf("%s: envelope type %q topic %q", w.name, env.Type, env.TopicArn)
			}
			if env.Subject != w.subject {
				t.Errorf("%s: subject %q, want %q", w.name, env.Subject, w.subject)
			}
			if env.Message != w.body {
				t.Errorf("%s: body differs:\n%s\nwant:\n%s", w.name, env.Message, w.body)
			}
			got := map[string]string{}
			for k, v := range env.MessageAttributes {
				if v.Type != "String" {
					t.Errorf("%s: attribute %s has type %s", w.name, k, v.Type)
				}
				got[k] = v.Value
			}
			checkAttrs(t, w, got)
		}
	})

	t.Run("raw message delivery", func(t *testing.T) {
		msgs := receiveAll(t, sqsc, queues[true], len(want))
		byBody := map[string]sqstypes.Message{}
		for _, m := range msgs {
			checkNoRawKey(t, m)
			byBody[aws.ToString(m.Body)] = m
		}
		for _, w := range want {
			m, ok := byBody[w.body]
			if !ok {
				t.Errorf("%s: body not delivered intact", w.name)
				continue
			}
			got := map[string]string{}
			for k, v := range m.MessageAttributes {
				if aws.ToString(v.DataType) != "String" {
					t.Errorf("%s: attribute %s has type %s", w.name, k, aws.ToString(v.DataType))
				}
				got[k] = aws.ToString(v.StringValue)
			}
			checkAttrs(t, w, got)
		}
	})

	t.Run("subject over the limit is rejected by SNS", func(t *testing.T) {
		_, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String("x"),
			Subject: aws.String(strings.Repeat("a", notify.MaxSubjectRunes+1))})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameter" {
			t.Fatalf("Publish(101-rune subject) = %v, want InvalidParameter", err)
		}
	})

	t.Run("chat rendering leaves other protocols the plain text", func(t *testing.T) {
		e := events[0].e
		id, err := notify.NewPublisher(snsc, notify.Options{ChatbotHTTPS: true}).Publish(ctx, topicARN, e)
		if err != nil {
			t.Fatal(err)
		}
		subject, body, _ := notify.Render(e)
		m := receiveAll(t, sqsc, queues[false], 1)[0]
		var env envelope
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
			t.Fatal(err)
		}
		if env.MessageId != id || env.Subject != subject || env.Message != body {
			t.Errorf("envelope %s got subject %q and body:\n%s", env.MessageId, env.Subject, env.Message)
		}
		if raw := receiveAll(t, sqsc, queues[true], 1)[0]; aws.ToString(raw.Body) != body {
			t.Errorf("raw delivery got:\n%s", aws.ToString(raw.Body))
		}
	})

	t.Run("missing topic", func(t *testing.T) {
		_, err := pub.Publish(ctx, topicARN+"-missing", events[0].e)
		if !errors.Is(err, notify.ErrTopicNotFound) {
			t.Fatalf("Publish(missing topic) = %v, want ErrTopicNotFound", err)
		}
	})
}

func checkAttrs(t *testing.T, w sent, got map[string]string) {
	t.Helper()
	if len(got) != len(w.attrs) {
		t.Errorf("%s: attributes %v, want %v", w.name, got, w.attrs)
	}
	for k, v := range w.attrs {
		if got[k] != v {
			t.Errorf("%s: attribute %s = %q, want %q", w.name, k, got[k], v)
		}
	}
}

// checkNoRawKey fails when an access key ID of the fixtures appears anywhere in the SQS message.
func checkNoRawKey(t *testing.T, m sqstypes.Message) {
	t.Helper()
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{keyID, "AKIA2OGYBAH6RLK4N3XM"} {
		if strings.Contains(string(payload), raw) || strings.Contains(aws.ToString(m.Body), raw) {
			t.Errorf("SQS message contains the unmasked key ID %s", raw)
		}
	}
}

// receiveAll reads n messages from the queue; moto delivers them while Publish runs.
func receiveAll(t *testing.T, c *sqs.Client, queueURL string, n int) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	for len(out) < n {
		r, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, VisibilityTimeout: 600})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			t.Fatalf("queue holds %d messages, want %d", len(out), n)
		}
		out = append(out, r.Messages...)
	}
	if len(out) != n {
		t.Fatalf("queue holds %d messages, want %d", len(out), n)
	}
	return out
}
