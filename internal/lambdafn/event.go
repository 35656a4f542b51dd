// Package lambdafn is the Lambda function's door into iamwarden: it turns invocation payloads
// into typed events and those into the same domain calls the CLI makes.
//
// A payload is routed by its shape, never by configuration: CloudTrail IAM events delivered by
// EventBridge, deadline invocations from the one-shot EventBridge Scheduler schedules the
// function creates, sweeps (the EventBridge scheduled event of the sweep rule, or a Scheduler
// payload), and AWS Config custom rule invocations.
package lambdafn

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Kind names what an invocation payload is.
type Kind string

// The kinds of payload Classify tells apart.
const (
	KindCloudTrail Kind = "cloudtrail"
	KindDeadline   Kind = "deadline"
	KindSweep      Kind = "sweep"
	KindConfigRule Kind = "config-rule"
	// KindAccount is one account's share of an organization sweep, fanned out by the hub.
	KindAccount Kind = "account"
	// KindSQS is a batch of SQS messages (the account queue's event source mapping).
	KindSQS     Kind = "sqs"
	KindUnknown Kind = "unknown"
)

// ErrMalformed is wrapped by every error Classify and DeadlineInvocation.Payload return: the
// payload is not a JSON object, or it has a known shape with a field missing or unparsable.
// Retrying such a payload cannot succeed.
var ErrMalformed = errors.New("malformed invocation payload")

// Event is one classified invocation payload. Exactly one of the pointers is set, the one Kind
// names; for KindUnknown none is, and Why says what was seen.
type Event struct {
	Kind       Kind
	CloudTrail *CloudTrailEvent
	Deadline   *DeadlineInvocation
	Sweep      *Sweep
	ConfigRule *ConfigRuleInvocation
	Account    *AccountWork
	SQS        *SQSBatch
	// Why describes an unknown payload for the log line that ignores it, e.g.
	// `EventBridge event of source "aws.s3" and detail-type "Object Created"`.
	Why string
}

// The CloudTrail event names of IAM calls the function's EventBridge rule subscribes to.
const (
	EventCreateUser             = "CreateUser"
	EventCreateLoginProfile     = "CreateLoginProfile"
	EventUpdateLoginProfile     = "UpdateLoginProfile"
	EventDeleteLoginProfile     = "DeleteLoginProfile"
	EventEnableMFADevice        = "EnableMFADevice"
	EventDeactivateMFADevice    = "DeactivateMFADevice"
	EventDeleteVirtualMFADevice = "DeleteVirtualMFADevice"
	EventResyncMFADevice        = "ResyncMFADevice"
	EventCreateAccessKey        = "CreateAccessKey"
	EventUpdateAccessKey        = "UpdateAccessKey"
	EventDeleteAccessKey        = "DeleteAccessKey"
	EventTagUser                = "TagUser"
	EventUntagUser              = "UntagUser"
	EventDeleteUser             = "DeleteUser"
)

var iamEventNames = []string{
	EventCreateUser, EventCreateLoginProfile, EventUpdateLoginProfile, EventDeleteLoginProfile,
	EventEnableMFADevice, EventDeactivateMFADevice, EventDeleteVirtualMFADevice,
	EventResyncMFADevice, EventCreateAccessKey, EventUpdateAccessKey, EventDeleteAccessKey,
	EventTagUser, EventUntagUser, EventDeleteUser,
}

// IAMEventNames returns the 14 event names of the function's EventBridge rule pattern, in the
// contract's order.
func IAMEventNames() []string { return slices.Clone(iamEventNames) }

// callerDefault lists the calls whose UserName is optional and then defaults to the principal
// making the request (IAM API reference: the access key calls determine the user from the
// signing key; CreateLoginProfile, DeleteLoginProfile and DeactivateMFADevice default to the
// caller, which for the root user means an AssumeRoot session). EnableMFADevice,
// ResyncMFADevice and UpdateLoginProfile require UserName.
var callerDefault = []string{
	EventCreateAccessKey, EventUpdateAccessKey, EventDeleteAccessKey,
	EventCreateLoginProfile, EventDeleteLoginProfile, EventDeactivateMFADevice,
}

// Values of the shapes Classify recognises.
const (
	sourceIAM            = "aws.iam"
	detailTypeCloudTrail = "AWS API Call via CloudTrail"
	eventSourceIAM       = "iam.amazonaws.com"
	sourceEvents         = "aws.events"
	detailTypeScheduled  = "Scheduled Event"
	callerTypeIAMUser    = "IAMUser"
	payloadKindDeadline  = "deadline"
	payloadKindSweep     = "sweep"
	payloadKindAccount   = "account"
	sourceSQS            = "aws:sqs"
)

// Values of Sweep.Source.
const (
	SweepSourceEventBridge = "eventbridge" // the sweep rule's EventBridge scheduled event
	SweepSourceScheduler   = "scheduler"   // an EventBridge Scheduler {"iamwarden":{"kind":"sweep"}}
)

// CloudTrailEvent is an IAM API call recorded by CloudTrail and delivered by EventBridge
// (detail-type "AWS API Call via CloudTrail"). Its event name may be outside the 14 the rule
// subscribes to (see Subscribed); a failed call has ErrorCode set.
type CloudTrailEvent struct {
	ID                 string    // the EventBridge event's id
	EventID            string    // detail.eventID, CloudTrail's id of the record
	RequestID          string    // detail.requestID
	EventName          string    // e.g. "CreateLoginProfile"
	EventTime          time.Time // detail.eventTime, else the EventBridge time
	Account            string    // the EventBridge event's account
	RecipientAccountID string    // detail.recipientAccountId
	Region             string    // detail.awsRegion (us-east-1 for IAM)
	ErrorCode          string    // e.g. "AccessDenied"; empty when the call succeeded
	ErrorMessage       string

	// UserName is the IAM user the call is about: requestParameters.userName; else the user
	// named in responseElements (CreateUser's user, CreateAccessKey's accessKey,
	// CreateLoginProfile's loginProfile); else, for the calls that default to the caller
	// (CreateAccessKey, UpdateAccessKey, DeleteAccessKey, CreateLoginProfile,
	// DeleteLoginProfile, DeactivateMFADevice), the caller when it is an IAM user.
	// DeleteVirtualMFADevice names only the device's serial number, so UserName stays empty:
	// the user it was enabled for is judged on the DeactivateMFADevice that must precede it,
	// and by the sweep. Empty too when the caller is not an IAM user (e.g. an AssumeRoot
	// session acting on the root user's own credentials).
	UserName string
	// UserID is the user's unique ID when the event names it: CreateUser's
	// responseElements.user.userId, or the caller's principalId when the user is the calling
	// IAM user itself.
	UserID string

	SerialNumber    string   // requestParameters.serialNumber (the MFA calls)
	AccessKeyID     string   // the key the call is about (not the caller's signing key)
	AccessKeyStatus string   // UpdateAccessKey's requested status, CreateAccessKey's new key's
	TagKeys         []string // the tag keys the call sets (TagUser, CreateUser) or UntagUser removes

	CallerARN  string // userIdentity.arn
	CallerType string // userIdentity.type: IAMUser, AssumedRole, Root, ...
}

// Subscribed reports whether the event name is one of the 14 of the function's rule pattern.
func (e CloudTrailEvent) Subscribed() bool { return slices.Contains(iamEventNames, e.EventName) }

// Failed reports whether CloudTrail recorded the call as failed (an errorCode is present).
func (e CloudTrailEvent) Failed() bool { return e.ErrorCode != "" }

// DeadlineInvocation is the payload of a one-shot deadline schedule: judge this user again at
// the deadline.
type DeadlineInvocation struct {
	AccountID string
	UserName  string
	UserID    string
	Deadline  time.Time
}

// deadlineWire is the contract's schedule Input, fields in the contract's order.
type deadlineWire struct {
	Kind      string `json:"kind"`
	AccountID string `json:"account_id"`
	UserName  string `json:"user_name"`
	UserID    string `json:"user_id"`
	Deadline  string `json:"deadline"`
	SweepID   string `json:"sweep_id,omitempty"`
}

// Payload returns the schedule's target Input for the invocation, exactly as the contract
// writes it: {"iamwarden":{"kind":"deadline","account_id":...,"user_name":...,"user_id":...,
// "deadline":"2026-12-02T10:00:00Z"}}. The deadline is written in UTC to the second (the
// precision of a Scheduler at() expression); fractions are dropped.
func (d DeadlineInvocation) Payload() ([]byte, error) {
	if d.Deadline.IsZero() {
		return nil, fmt.Errorf("%w: deadline invocation: deadline is missing", ErrMalformed)
	}
	w := deadlineWire{
		Kind:      payloadKindDeadline,
		AccountID: d.AccountID,
		UserName:  d.UserName,
		UserID:    d.UserID,
		Deadline:  d.Deadline.UTC().Format(time.RFC3339),
	}
	if err := w.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		IAMWarden deadlineWire `json:"iamwarden"`
	}{w})
}

func (w deadlineWire) validate() error {
	for _, f := range []struct{ name, value string }{
		{"account_id", w.AccountID}, {"user_name", w.UserName}, {"user_id", w.UserID},
		{"deadline", w.Deadline},
	} {
		if f.value == "" {
			return fmt.Errorf("%w: deadline invocation: %s is missing", ErrMalformed, f.name)
		}
	}
	return nil
}

// SweepPayload returns the EventBridge Scheduler Input that asks for a sweep:
// {"iamwarden":{"kind":"sweep"}}.
func SweepPayload() []byte { return []byte(`{"iamwarden":{"kind":"sweep"}}`) }

// Sweep asks for a judgement of every user of the account.
type Sweep struct {
	Source  string    // SweepSourceEventBridge or SweepSourceScheduler
	Time    time.Time // the scheduled event's time; zero for a Scheduler payload, which has none
	RuleARN string    // the EventBridge rule's ARN (the scheduled event's resource)
}

// Config rule message types (invokingEvent.messageType).
const (
	MessageScheduledNotification                        = "ScheduledNotification"
	MessageConfigurationItemChangeNotification          = "ConfigurationItemChangeNotification"
	MessageOversizedConfigurationItemChangeNotification = "OversizedConfigurationItemChangeNotification"
)

// ConfigRuleInvocation is an AWS Config custom Lambda rule invocation. The function's rule is
// periodic (ScheduledNotification); a change-triggered invocation carries the configuration
// item's resource, which a periodic one does not.
type ConfigRuleInvocation struct {
	ResultToken      string // for config:PutEvaluations; "TESTMODE" when Config tests the rule
	RuleName         string
	RuleARN          string
	RuleID           string
	AccountID        string // accountId, else invokingEvent.awsAccountId
	MessageType      string // invokingEvent.messageType
	NotificationTime time.Time
	EventLeftScope   bool
	ExecutionRoleARN string
	RuleParameters   string // the ruleParameters JSON document as Config sends it (a string)
	Version          string

	// Set for (oversized) configuration item change notifications only.
	ResourceType string // e.g. AWS::IAM::User
	ResourceID   string // for an IAM user, its user ID
	ResourceName string // for an IAM user, its user name
	ItemStatus   string // configurationItemStatus: OK, ResourceDiscovered, ResourceDeleted, ...
}

// Classify tells what an invocation payload is by its shape. It returns an error (wrapping
// ErrMalformed) only for a payload that is not a JSON object, or that has a known shape with a
// field missing or unparsable; any other shape is KindUnknown with Why saying what was seen.
//
// An "iamwarden" payload of a kind this version does not know is KindUnknown too (a schedule
// written by a newer version of the function); one without a kind is malformed.
func Classify(raw []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON object: %w", ErrMalformed, err)
	}
	if top == nil {
		return Event{}, fmt.Errorf("%w: not a JSON object: null", ErrMalformed)
	}
	switch {
	case has(top, "iamwarden"):
		return classifyOwn(top["iamwarden"])
	case has(top, "source") && has(top, "detail-type"):
		return classifyEventBridge(raw)
	case has(top, "invokingEvent") && has(top, "resultToken"):
		return classifyConfig(raw)
	case has(top, "Records"):
		if ev, ok, err := classifySQS(top["Records"]); ok || err != nil {
			return ev, err
		}
	}
	return unknown(describe(top)), nil
}

func has(m map[string]json.RawMessage, key string) bool {
	_, ok := m[key]
	return ok
}

func unknown(why string) Event { return Event{Kind: KindUnknown, Why: why} }

func classifyOwn(raw json.RawMessage) (Event, error) {
	if !isObject(raw) {
		return Event{}, fmt.Errorf("%w: iamwarden: not a JSON object", ErrMalformed)
	}
	var w deadlineWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, fmt.Errorf("%w: iamwarden: %w", ErrMalformed, err)
	}
	switch w.Kind {
	case "":
		return Event{}, fmt.Errorf("%w: iamwarden: kind is missing", ErrMalformed)
	case payloadKindSweep:
		return Event{Kind: KindSweep, Sweep: &Sweep{Source: SweepSourceScheduler}}, nil
	case payloadKindDeadline:
		if err := w.validate(); err != nil {
			return Event{}, err
		}
		deadline, err := time.Parse(time.RFC3339, w.Deadline)
		if err != nil {
			return Event{}, fmt.Errorf("%w: deadline invocation: deadline %q is not an RFC 3339 time",
				ErrMalformed, w.Deadline)
		}
		return Event{Kind: KindDeadline, Deadline: &DeadlineInvocation{
			AccountID: w.AccountID,
			UserName:  w.UserName,
			UserID:    w.UserID,
			Deadline:  deadline.UTC(),
		}}, nil
	case payloadKindAccount:
		if !accountID.MatchString(w.AccountID) {
			return Event{}, fmt.Errorf("%w: account work: account_id %q is not a 12-digit account ID", ErrMalformed, w.AccountID)
		}
		return Event{Kind: KindAccount, Account: &AccountWork{AccountID: w.AccountID, SweepID: w.SweepID}}, nil
	}
	return unknown(fmt.Sprintf("iamwarden payload of kind %q", w.Kind)), nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// AccountWork asks the hub to sweep one member account: one message of an organization sweep.
type AccountWork struct {
	AccountID string
	SweepID   string
}

// Payload returns the account queue's message body for w.
func (w AccountWork) Payload() ([]byte, error) {
	if !accountID.MatchString(w.AccountID) {
		return nil, fmt.Errorf("%w: account work: account_id %q is not a 12-digit account ID", ErrMalformed, w.AccountID)
	}
	return json.Marshal(struct {
		IAMWarden deadlineWire `json:"iamwarden"`
	}{deadlineWire{Kind: payloadKindAccount, AccountID: w.AccountID, SweepID: w.SweepID}})
}

// SQSBatch is the batch an SQS event source mapping delivers.
type SQSBatch struct {
	Records []SQSRecord
}

// SQSRecord is one message of a batch.
type SQSRecord struct {
	MessageID string
	Body      []byte
	// ReceiveCount is how many times the queue has delivered the message.
	ReceiveCount int
}

// classifySQS reads a Records list that is an SQS batch; ok is false when it is another
// service's records (an S3 notification, ...).
func classifySQS(raw json.RawMessage) (ev Event, ok bool, err error) {
	var batch events.SQSEvent
	if json.Unmarshal([]byte(`{"Records":`+string(raw)+`}`), &batch) != nil || len(batch.Records) == 0 ||
		batch.Records[0].EventSource != sourceSQS {
		return Event{}, false, nil
	}
	b := &SQSBatch{}
	for i, r := range batch.Records {
		if r.EventSource != sourceSQS || r.MessageId == "" {
			return Event{}, true, fmt.Errorf("%w: Records[%d]: not an SQS message with a messageId", ErrMalformed, i)
		}
		n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
		b.Records = append(b.Records, SQSRecord{MessageID: r.MessageId, Body: []byte(r.Body), ReceiveCount: n})
	}
	return Event{Kind: KindSQS, SQS: b}, true, nil
}

func classifyEventBridge(raw []byte) (Event, error) {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: EventBridge event: %w", ErrMalformed, err)
	}
	switch {
	case ev.Source == sourceIAM && ev.DetailType == detailTypeCloudTrail:
		return classifyCloudTrail(ev)
	case ev.Source == sourceEvents && ev.DetailType == detailTypeScheduled:
		s := &Sweep{Source: SweepSourceEventBridge, Time: ev.Time.UTC()}
		if len(ev.Resources) > 0 {
			s.RuleARN = ev.Resources[0]
		}
		return Event{Kind: KindSweep, Sweep: s}, nil
	}
	return unknown(fmt.Sprintf("EventBridge event of source %q and detail-type %q",
		ev.Source, ev.DetailType)), nil
}

// cloudTrailDetail is the part of a CloudTrail record Classify reads.
type cloudTrailDetail struct {
	UserIdentity struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	EventTime          time.Time       `json:"eventTime"`
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	ErrorCode          string          `json:"errorCode"`
	ErrorMessage       string          `json:"errorMessage"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	RecipientAccountID string          `json:"recipientAccountId"`
}

type cloudTrailRequest struct {
	UserName     string   `json:"userName"`
	SerialNumber string   `json:"serialNumber"`
	AccessKeyID  string   `json:"accessKeyId"`
	Status       string   `json:"status"`
	TagKeys      []string `json:"tagKeys"`
	Tags         []struct {
		Key string `json:"key"`
	} `json:"tags"`
}

type cloudTrailResponse struct {
	User *struct {
		UserName string `json:"userName"`
		UserID   string `json:"userId"`
	} `json:"user"`
	AccessKey *struct {
		UserName    string `json:"userName"`
		AccessKeyID string `json:"accessKeyId"`
		Status      string `json:"status"`
	} `json:"accessKey"`
	LoginProfile *struct {
		UserName string `json:"userName"`
	} `json:"loginProfile"`
}

func classifyCloudTrail(ev events.EventBridgeEvent) (Event, error) {
	if !isObject(ev.Detail) {
		return Event{}, fmt.Errorf("%w: CloudTrail event %s: detail is not a JSON object",
			ErrMalformed, ev.ID)
	}
	var d cloudTrailDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return Event{}, fmt.Errorf("%w: CloudTrail event %s: %w", ErrMalformed, ev.ID, err)
	}
	if d.EventSource != eventSourceIAM {
		return unknown(fmt.Sprintf("CloudTrail event of eventSource %q from source %q",
			d.EventSource, ev.Source)), nil
	}
	if d.EventName == "" {
		return Event{}, fmt.Errorf("%w: CloudTrail event %s: detail.eventName is missing",
			ErrMalformed, ev.ID)
	}
	// requestParameters and responseElements are read only when they are objects: CloudTrail
	// writes null for calls without them and may write other values for oversized ones.
	var req cloudTrailRequest
	if isObject(d.RequestParameters) {
		if err := json.Unmarshal(d.RequestParameters, &req); err != nil {
			return Event{}, fmt.Errorf("%w: CloudTrail event %s: requestParameters: %w",
				ErrMalformed, ev.ID, err)
		}
	}
	var resp cloudTrailResponse
	if isObject(d.ResponseElements) {
		if err := json.Unmarshal(d.ResponseElements, &resp); err != nil {
			return Event{}, fmt.Errorf("%w: CloudTrail event %s: responseElements: %w",
				ErrMalformed, ev.ID, err)
		}
	}

	ct := &CloudTrailEvent{
		ID:                 ev.ID,
		EventID:            d.EventID,
		RequestID:          d.RequestID,
		EventName:          d.EventName,
		EventTime:          d.EventTime.UTC(),
		Account:            ev.AccountID,
		RecipientAccountID: d.RecipientAccountID,
		Region:             d.AWSRegion,
		ErrorCode:          d.ErrorCode,
		ErrorMessage:       d.ErrorMessage,
		SerialNumber:       req.SerialNumber,
		AccessKeyID:        req.AccessKeyID,
		AccessKeyStatus:    req.Status,
		TagKeys:            req.TagKeys,
		CallerARN:          d.UserIdentity.ARN,
		CallerType:         d.UserIdentity.Type,
	}
	if ct.EventTime.IsZero() {
		ct.EventTime = ev.Time.UTC()
	}
	if len(ct.TagKeys) == 0 {
		for _, t := range req.Tags {
			ct.TagKeys = append(ct.TagKeys, t.Key)
		}
	}

	ct.UserName = req.UserName
	switch {
	case resp.User != nil:
		ct.UserName = cmp.Or(ct.UserName, resp.User.UserName)
		ct.UserID = resp.User.UserID
	case resp.AccessKey != nil:
		ct.UserName = cmp.Or(ct.UserName, resp.AccessKey.UserName)
		ct.AccessKeyID = cmp.Or(ct.AccessKeyID, resp.AccessKey.AccessKeyID)
		ct.AccessKeyStatus = cmp.Or(ct.AccessKeyStatus, resp.AccessKey.Status)
	case resp.LoginProfile != nil:
		ct.UserName = cmp.Or(ct.UserName, resp.LoginProfile.UserName)
	}
	caller := d.UserIdentity
	callerIsUser := caller.Type == callerTypeIAMUser && caller.UserName != ""
	if ct.UserName == "" && callerIsUser && slices.Contains(callerDefault, d.EventName) {
		ct.UserName = caller.UserName
	}
	if ct.UserID == "" && callerIsUser && ct.UserName == caller.UserName &&
		caller.AccountID == cmp.Or(d.RecipientAccountID, ev.AccountID) {
		ct.UserID = caller.PrincipalID
	}
	return Event{Kind: KindCloudTrail, CloudTrail: ct}, nil
}

// configInvokingEvent is the part of a Config rule's invokingEvent Classify reads.
type configInvokingEvent struct {
	MessageType              string            `json:"messageType"`
	NotificationCreationTime time.Time         `json:"notificationCreationTime"`
	AWSAccountID             string            `json:"awsAccountId"`
	ConfigurationItem        *configItemFields `json:"configurationItem"`
	ConfigurationItemSummary *configItemFields `json:"configurationItemSummary"`
}

type configItemFields struct {
	ResourceType            string `json:"resourceType"`
	ResourceID              string `json:"resourceId"`
	ResourceName            string `json:"resourceName"`
	ConfigurationItemStatus string `json:"configurationItemStatus"`
}

func classifyConfig(raw []byte) (Event, error) {
	var ce events.ConfigEvent
	if err := json.Unmarshal(raw, &ce); err != nil {
		return Event{}, fmt.Errorf("%w: Config rule invocation: %w", ErrMalformed, err)
	}
	if ce.ResultToken == "" {
		return Event{}, fmt.Errorf("%w: Config rule invocation: resultToken is missing", ErrMalformed)
	}
	var ie configInvokingEvent
	if !isObject([]byte(ce.InvokingEvent)) {
		return Event{}, fmt.Errorf("%w: Config rule invocation: invokingEvent is not a JSON object",
			ErrMalformed)
	}
	if err := json.Unmarshal([]byte(ce.InvokingEvent), &ie); err != nil {
		return Event{}, fmt.Errorf("%w: Config rule invocation: invokingEvent: %w", ErrMalformed, err)
	}
	if ie.MessageType == "" {
		return Event{}, fmt.Errorf("%w: Config rule invocation: invokingEvent.messageType is missing",
			ErrMalformed)
	}
	inv := &ConfigRuleInvocation{
		ResultToken:      ce.ResultToken,
		RuleName:         ce.ConfigRuleName,
		RuleARN:          ce.ConfigRuleArn,
		RuleID:           ce.ConfigRuleID,
		AccountID:        cmp.Or(ce.AccountID, ie.AWSAccountID),
		MessageType:      ie.MessageType,
		NotificationTime: ie.NotificationCreationTime.UTC(),
		EventLeftScope:   ce.EventLeftScope,
		ExecutionRoleARN: ce.ExecutionRoleArn,
		RuleParameters:   ce.RuleParameters,
		Version:          ce.Version,
	}
	if item := cmp.Or(ie.ConfigurationItem, ie.ConfigurationItemSummary); item != nil {
		inv.ResourceType = item.ResourceType
		inv.ResourceID = item.ResourceID
		inv.ResourceName = item.ResourceName
		inv.ItemStatus = item.ConfigurationItemStatus
	}
	return Event{Kind: KindConfigRule, ConfigRule: inv}, nil
}

// describe says what an object of no known shape holds, for Event.Why.
func describe(top map[string]json.RawMessage) string {
	if len(top) == 0 {
		return "an empty JSON object"
	}
	// The records of S3, SQS, SNS, DynamoDB and Kinesis notifications name their source.
	if recs, ok := top["Records"]; ok {
		var records []struct {
			EventSource string `json:"eventSource"` // SNS spells it EventSource: matched too
		}
		if json.Unmarshal(recs, &records) == nil && len(records) > 0 {
			if src := records[0].EventSource; src != "" {
				return fmt.Sprintf("%d record(s) of eventSource %q", len(records), src)
			}
		}
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const shown = 8
	more := ""
	if len(keys) > shown {
		more = fmt.Sprintf(" and %d more", len(keys)-shown)
		keys = keys[:shown]
	}
	return "a JSON object with keys " + strings.Join(keys, ", ") + more
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
