package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
)

// Notifier delivers an event to a topic and returns the message ID. Publisher and Writer
// implement it.
type Notifier interface {
	Publish(ctx context.Context, topicARN string, e Event) (messageID string, err error)
}

var (
	_ Notifier = (*Publisher)(nil)
	_ Notifier = (*Writer)(nil)
)

// PublishAPI is the part of the SNS client the Publisher needs.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Errors a failed publication is classified as, from the SNS error's type or code. They wrap
// the SDK error, which stays reachable with errors.As.
var (
	// ErrAccessDenied: the principal may not publish to the topic (or use its KMS key).
	ErrAccessDenied = errors.New("not allowed to publish to the topic")
	// ErrTopicNotFound: the topic does not exist in the account and region.
	ErrTopicNotFound = errors.New("topic not found")
	// ErrThrottled: SNS kept throttling the publication after the SDK's retries.
	ErrThrottled = errors.New("publication throttled")
	// ErrRejected: SNS rejected the message as invalid.
	ErrRejected = errors.New("message rejected")
)

var errorCodes = map[string]error{
	"AuthorizationError":    ErrAccessDenied,
	"AccessDenied":          ErrAccessDenied,
	"AccessDeniedException": ErrAccessDenied,
	"KMSAccessDenied":       ErrAccessDenied,
	"NotFound":              ErrTopicNotFound,
	"ResourceNotFound":      ErrTopicNotFound,
	"Throttled":             ErrThrottled,
	"Throttling":            ErrThrottled,
	"ThrottlingException":   ErrThrottled,
	"KMSThrottling":         ErrThrottled,
	"InvalidParameter":      ErrRejected,
	"ParameterValueInvalid": ErrRejected,
	"ValidationException":   ErrRejected,
}

// classify returns the sentinel for an SNS error, nil when it has none.
func classify(err error) error {
	var (
		denied    *snstypes.AuthorizationErrorException
		notFound  *snstypes.NotFoundException
		throttled *snstypes.ThrottledException
	)
	switch {
	case errors.As(err, &denied):
		return ErrAccessDenied
	case errors.As(err, &notFound):
		return ErrTopicNotFound
	case errors.As(err, &throttled):
		return ErrThrottled
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return errorCodes[apiErr.ErrorCode()]
	}
	return nil
}

// Hint is advice for a publication error, empty when there is none.
func Hint(err error) string {
	switch {
	case errors.Is(err, ErrAccessDenied):
		return "try: allow sns:Publish on the topic (and kms:GenerateDataKey and kms:Decrypt on its key when it is encrypted)"
	case errors.Is(err, ErrTopicNotFound):
		return "try: check the topic ARN, and that its region is the region iamwarden runs in"
	case errors.Is(err, ErrThrottled):
		return "try: run again later"
	default:
		return ""
	}
}

// Publisher publishes rendered events to SNS.
type Publisher struct {
	api  PublishAPI
	opts Options
	log  *slog.Logger
}

// Options configures a Publisher.
type Options struct {
	// Log receives a record per publication; nil discards them.
	Log *slog.Logger
	// ChatbotHTTPS publishes with MessageStructure=json: HTTPS subscriptions, which is how
	// Amazon Q Developer in chat applications (AWS Chatbot) subscribes, receive the Chat
	// rendering; every other protocol receives the plain text.
	ChatbotHTTPS bool
}

// NewPublisher returns a Publisher using api.
func NewPublisher(api PublishAPI, opts Options) *Publisher {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{api: api, opts: opts, log: log}
}

// Publish renders e and publishes it to the topic with its message attributes. On a FIFO topic
// (ARN ending in .fifo) the account is the message group and the deduplication ID is derived
// from the event, so a publication retried after a lost answer is delivered once.
func (p *Publisher) Publish(ctx context.Context, topicARN string, e Event) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	in := Input(topicARN, e)
	if p.opts.ChatbotHTTPS {
		structured, err := json.Marshal(map[string]string{"default": aws.ToString(in.Message), "https": Chat(e)})
		if err != nil {
			return "", fmt.Errorf("encode message structure: %w", err)
		}
		in.Message, in.MessageStructure = aws.String(string(structured)), aws.String("json")
	}
	out, err := p.api.Publish(ctx, in)
	if err != nil {
		if kind := classify(err); kind != nil {
			err = fmt.Errorf("sns:Publish %s: %w: %w", topicARN, kind, err)
		} else {
			err = fmt.Errorf("sns:Publish %s: %w", topicARN, err)
		}
		p.log.Warn("notification not published", "event", string(e.Kind), "topic", topicARN, "error", err)
		return "", err
	}
	id := aws.ToString(out.MessageId)
	p.log.Debug("notification published", "event", string(e.Kind), "topic", topicARN, "message_id", id)
	return id, nil
}

// Input is the SNS Publish request for e, with the plain-text message.
func Input(topicARN string, e Event) *sns.PublishInput {
	subject, body, attrs := Render(e)
	in := &sns.PublishInput{
		TopicArn:          aws.String(topicARN),
		Subject:           aws.String(subject),
		Message:           aws.String(body),
		MessageAttributes: make(map[string]snstypes.MessageAttributeValue, len(attrs)),
	}
	for k, v := range attrs {
		in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if strings.HasSuffix(topicARN, ".fifo") {
		in.MessageGroupId = aws.String(e.AccountID)
		in.MessageDeduplicationId = aws.String(DeduplicationID(e))
	}
	return in
}

// DeduplicationID identifies an event independently of when it is published: the same kind,
// run, action, account, principal, resource and rule give the same ID.
func DeduplicationID(e Event) string {
	h := sha256.New()
	for _, part := range []string{string(e.Kind), e.RunID, e.ActionID, e.AccountID, e.Principal, e.Resource, e.Rule, e.Action} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Writer writes rendered events to an io.Writer instead of publishing them: what a dry run
// would have sent. It is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Publish writes the rendered event and returns a local message ID ("local-1", "local-2"...).
func (w *Writer) Publish(ctx context.Context, topicARN string, e Event) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := e.Validate(); err != nil {
		return "", err
	}
	subject, body, attrs := Render(e)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	id := fmt.Sprintf("local-%d", w.n)
	header := fmt.Sprintf("=== notification %s to %s ===\n", id, topicARN)
	if _, err := io.WriteString(w.w, header+Format(subject, body, attrs)+"\n"); err != nil {
		return "", fmt.Errorf("write notification: %w", err)
	}
	return id, nil
}

// Format lays out a rendered message as text: the subject, the attributes sorted by name, and
// the body.
func Format(subject, body string, attrs map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Subject: %s\n", subject)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.WriteString("Attributes:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, attrs[k])
	}
	b.WriteString("\n\n")
	b.WriteString(body)
	return b.String()
}
