// Package lambdafn is the Lambda door into iamwarden: it reads the function's settings from the
// environment, tells the invocation's event by its shape (CloudTrail IAM event, deadline
// schedule, sweep, AWS Config rule) and turns it into the same warden calls the CLI makes, and
// their results into a response and JSON log lines.
package lambdafn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/securityhub"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// Handler handles the function's invocations.
type Handler struct {
	// AWS is the SDK configuration of the function's own account.
	AWS    aws.Config
	Getenv func(string) string
	Now    func() time.Time
	Log    *slog.Logger
	// Journal opens the journal table; nil uses DynamoDB through AWS.
	Journal func(table string) (journal.Journal, error)
	// Metrics receives one embedded-metric-format line per invocation; nil writes none.
	Metrics io.Writer
}

// New returns a handler over the function's environment and AWS configuration.
func New(cfg aws.Config, log *slog.Logger) *Handler {
	return &Handler{AWS: cfg, Getenv: os.Getenv, Now: time.Now, Log: log, Metrics: os.Stdout}
}

// Response is what an invocation did, returned to the caller and logged.
type Response struct {
	Event Kind   `json:"event"`
	Mode  Mode   `json:"mode,omitempty"`
	User  string `json:"user,omitempty"`
	// Ignored says why the event was acknowledged without doing anything.
	Ignored  string   `json:"ignored,omitempty"`
	Findings int      `json:"findings"`
	Planned  int      `json:"planned"`
	Done     int      `json:"done"`
	Skipped  int      `json:"skipped"`
	Refused  int      `json:"refused"`
	Failed   int      `json:"failed"`
	Warnings int      `json:"warnings"`
	Schedule string   `json:"schedule,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	RunID    string   `json:"run_id,omitempty"`
	// HistoryID is the history record a one-account sweep stored.
	HistoryID string `json:"history_id,omitempty"`
	// Evaluations is how many AWS Config evaluations were sent.
	Evaluations int  `json:"evaluations,omitempty"`
	Partial     bool `json:"partial,omitempty"`
	// Account is the account a one-account invocation was about, when not the function's own.
	Account string `json:"account,omitempty"`
	// Accounts counts the accounts an organization sweep fanned out to.
	Accounts int `json:"accounts,omitempty"`
	// SecurityHub says what the Security Hub import did.
	SecurityHub *report.SecurityHubImport `json:"security_hub,omitempty"`
	// BatchItemFailures names the SQS messages to deliver again: the event source mapping
	// reads it (ReportBatchItemFailures).
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures,omitempty"`
}

// BatchItemFailure is one SQS message of a batch that failed.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Invoke handles one invocation. An unknown or unusable event is logged and acknowledged, so
// that it is not retried; invalid settings and failures that a retry may fix return an error.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (*Response, error) {
	log := h.logger(ctx)
	ev, err := Classify(payload)
	if err != nil {
		log.Warn("event ignored: not an event this function handles", "error", err)
		return &Response{Event: KindUnknown, Ignored: err.Error()}, nil
	}
	if ev.Kind == KindUnknown {
		log.Warn("event ignored: unknown shape", "why", ev.Why)
		return &Response{Event: KindUnknown, Ignored: ev.Why}, nil
	}
	log = log.With("event", string(ev.Kind))
	inv, err := h.invocation(ctx, log)
	if err != nil {
		log.Error("invocation failed before doing anything", "error", err)
		return nil, err
	}
	defer inv.close()
	var resp *Response
	switch ev.Kind {
	case KindCloudTrail:
		resp, err = inv.cloudTrail(ctx, ev.CloudTrail)
	case KindDeadline:
		resp, err = inv.deadline(ctx, ev.Deadline)
	case KindSweep:
		resp, err = inv.sweep(ctx)
	case KindConfigRule:
		resp, err = inv.configRule(ctx, ev.ConfigRule)
	case KindAccount:
		resp, err = inv.accountWork(ctx, ev.Account)
	case KindSQS:
		resp, err = inv.batch(ctx, ev.SQS)
	}
	if resp != nil {
		resp.Event, resp.Mode = ev.Kind, inv.settings.Mode
		log.Info("invocation done", "response", resp)
		if h.Metrics != nil {
			if err := writeMetrics(h.Metrics, resp, inv.now()); err != nil {
				log.Warn("metrics not written", "error", err)
			}
		}
	}
	if err != nil {
		log.Error("invocation failed", "error", err)
		return resp, err
	}
	return resp, nil
}

func (h *Handler) logger(ctx context.Context) *slog.Logger {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request_id", lc.AwsRequestID)
	}
	return log
}

// invocation is one invocation's settings, use cases and clients.
type invocation struct {
	settings  *Settings
	warden    *warden.Warden
	scheduler *scheduler.Client
	config    *configservice.Client
	targetARN string
	log       *slog.Logger
	now       func() time.Time
	journal   journal.Journal
	// org reaches the organization's accounts when the function is its hub; nil otherwise.
	org         *warden.Organization
	sqs         *sqs.Client
	securityHub securityhub.StateStore
}

func (h *Handler) invocation(ctx context.Context, log *slog.Logger) (*invocation, error) {
	now := h.Now
	if now == nil {
		now = time.Now
	}
	clients := warden.Connect(h.AWS)
	s, err := LoadSettings(ctx, h.getenv, clients.SSM)
	if err != nil {
		return nil, err
	}
	inv := &invocation{settings: s, log: log, now: now,
		scheduler: scheduler.NewFromConfig(h.AWS), config: configservice.NewFromConfig(h.AWS)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		inv.targetARN = lc.InvokedFunctionArn
	}
	if s.Schedule.On() && inv.targetARN == "" {
		return nil, errors.New("deadline schedules need the function's ARN, which the invocation context lacks")
	}
	w := &warden.Warden{Clients: clients, Settings: s.Warden, Now: now, Log: log}
	if s.Journal != "" {
		open := h.Journal
		if open == nil {
			open = func(table string) (journal.Journal, error) { return dynamo.New(dynamodb.NewFromConfig(h.AWS), table) }
		}
		j, err := open(s.Journal)
		if err != nil {
			return nil, fmt.Errorf("journal table %s: %w", s.Journal, err)
		}
		inv.journal = j
		w.Journal = j
	}
	inv.warden = w
	if s.SecurityHub {
		if inv.securityHub, err = securityhub.NewDynamoStore(dynamodb.NewFromConfig(h.AWS), s.Journal); err != nil {
			return nil, err
		}
	}
	if o := s.Organization; o != nil {
		inv.sqs = sqs.NewFromConfig(h.AWS)
		role := warden.MemberRole{Name: o.RoleName, ExternalID: o.ExternalID, SessionName: "iamwarden-hub"}
		if inv.org, err = warden.NewOrganization(ctx, w, role); err != nil {
			return nil, fmt.Errorf("who am I (sts:GetCallerIdentity): %w", err)
		}
	}
	return inv, nil
}

func (inv *invocation) close() {
	if inv.journal != nil {
		_ = inv.journal.Close()
	}
}

func (h *Handler) getenv(k string) string {
	if h.Getenv == nil {
		return os.Getenv(k)
	}
	return h.Getenv(k)
}
