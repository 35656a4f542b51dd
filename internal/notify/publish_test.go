package notify_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/notify"
)

// fakeSNS is a PublishAPI with a function field.
type fakeSNS struct {
	publish func(in *sns.PublishInput) (*sns.PublishOutput, error)
	calls   []*sns.PublishInput
}

var _ notify.PublishAPI = (*fakeSNS)(nil)

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.calls = append(f.calls, in)
	return f.publish(in)
}

const topic = "arn:aws:sns:us-east-1:123456789012:iamwarden"

func TestPublisherSendsRenderedMessage(t *testing.T) {
	for _, tc := range fixtures() {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeSNS{publish: func(*sns.PublishInput) (*sns.PublishOutput, error) {
				return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
			}}
			id, err := notify.NewPublisher(api, notify.Options{}).Publish(context.Background(), topic, tc.e)
			if err != nil || id != "m-1" {
				t.Fatalf("Publish() = %q, %v", id, err)
			}
			if len(api.calls) != 1 {
				t.Fatalf("%d Publish calls", len(api.calls))
			}
			in := api.calls[0]
			subject, body, attrs := notify.Render(tc.e)
			if aws.ToString(in.TopicArn) != topic || aws.ToString(in.Subject) != subject || aws.ToString(in.Message) != body {
				t.Errorf("input topic %q subject %q does not carry the rendering", aws.ToString(in.TopicArn), aws.ToString(in.Subject))
			}
			if len(in.MessageAttributes) != len(attrs) {
				t.Errorf("%d message attributes, want %d", len(in.MessageAttributes), len(attrs))
			}
			for k, v := range attrs {
				got := in.MessageAttributes[k]
				if aws.ToString(got.DataType) != "String" || aws.ToString(got.StringValue) != v {
					t.Errorf("attribute %s = %s %q, want String %q", k, aws.ToString(got.DataType), aws.ToString(got.StringValue), v)
				}
			}
			if in.MessageGroupId != nil || in.MessageDeduplicationId != nil {
				t.Errorf("standard topic got FIFO fields")
			}
		})
	}
}

func TestPublisherFIFOTopicDeduplicates(t *testing.T) {
	api := &fakeSNS{publish: func(*sns.PublishInput) (*sns.PublishOutput, error) { return &sns.PublishOutput{}, nil }}
	p := notify.NewPublisher(api, notify.Options{})
	e := fixtures()[0].e
	later := e
	later.At = later.At.Add(3)
	other := e
	other.ActionID = "act-other"
	for _, ev := range []notify.Event{e, later, other} {
		if _, err := p.Publish(context.Background(), topic+".fifo", ev); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, len(api.calls))
	for i, in := range api.calls {
		if aws.ToString(in.MessageGroupId) != e.AccountID {
			t.Errorf("message group %q, want the account", aws.ToString(in.MessageGroupId))
		}
		ids[i] = aws.ToString(in.MessageDeduplicationId)
		if n := len(ids[i]); n == 0 || n > 128 {
			t.Errorf("deduplication ID %q has %d characters", ids[i], n)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("the same event published later got another deduplication ID")
	}
	if ids[0] == ids[2] {
		t.Errorf("another action got the same deduplication ID")
	}
}

func TestPublisherClassifiesErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"authorization error type", &snstypes.AuthorizationErrorException{Message: aws.String("no")}, notify.ErrAccessDenied},
		{"not found type", &snstypes.NotFoundException{Message: aws.String("Topic does not exist")}, notify.ErrTopicNotFound},
		{"throttled type", &snstypes.ThrottledException{Message: aws.String("slow down")}, notify.ErrThrottled},
		{"kms access denied code", &smithy.GenericAPIError{Code: "KMSAccessDenied"}, notify.ErrAccessDenied},
		{"throttling code", &smithy.GenericAPIError{Code: "Throttling"}, notify.ErrThrottled},
		{"invalid parameter code", &smithy.GenericAPIError{Code: "InvalidParameter"}, notify.ErrRejected},
		{"unknown code", &smithy.GenericAPIError{Code: "InternalError"}, nil},
		{"network error", errors.New("connection reset by peer"), nil},
	}
	sentinels := []error{notify.ErrAccessDenied, notify.ErrTopicNotFound, notify.ErrThrottled, notify.ErrRejected}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeSNS{publish: func(*sns.PublishInput) (*sns.PublishOutput, error) { return nil, tc.err }}
			_, err := notify.NewPublisher(api, notify.Options{}).Publish(context.Background(), topic, fixtures()[0].e)
			if err == nil {
				t.Fatal("Publish() succeeded")
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap the SDK error", err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tc.want))
				}
			}
			if (notify.Hint(err) != "") != (tc.want != nil && tc.want != notify.ErrRejected) {
				t.Errorf("Hint(%v) = %q", err, notify.Hint(err))
			}
			if !strings.Contains(err.Error(), topic) {
				t.Errorf("error %q does not name the topic", err)
			}
		})
	}
}

func TestPublisherRejectsInvalidEvent(t *testing.T) {
	api := &fakeSNS{publish: func(*sns.PublishInput) (*sns.PublishOutput, error) { return &sns.PublishOutput{}, nil }}
	_, err := notify.NewPublisher(api, notify.Options{}).Publish(context.Background(), topic, notify.Event{Kind: notify.KindActionDone})
	if !errors.Is(err, notify.ErrInvalidEvent) {
		t.Fatalf("Publish(invalid) = %v, want ErrInvalidEvent", err)
	}
	if len(api.calls) != 0 {
		t.Errorf("an invalid event reached SNS")
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := notify.NewWriter(&buf)
	fx := fixtures()
	for i, tc := range fx[:2] {
		id, err := w.Publish(context.Background(), topic, tc.e)
		if err != nil {
			t.Fatal(err)
		}
		if want := "local-" + string(rune('1'+i)); id != want {
			t.Errorf("message ID %q, want %q", id, want)
		}
	}
	out := buf.String()
	for i, tc := range fx[:2] {
		want := notify.Format(notify.Render(tc.e))
		if !strings.Contains(out, want) {
			t.Errorf("output lacks rendering %d", i)
		}
	}
	if !strings.Contains(out, "=== notification local-2 to "+topic+" ===\n") {
		t.Errorf("output lacks the second header:\n%s", out)
	}
	if strings.Contains(out, keyID) {
		t.Errorf("output contains an unmasked key ID")
	}
	if _, err := w.Publish(context.Background(), topic, notify.Event{}); !errors.Is(err, notify.ErrInvalidEvent) {
		t.Errorf("Publish(invalid) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Publish(ctx, topic, fx[0].e); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(cancelled) = %v", err)
	}
}
