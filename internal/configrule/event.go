package configrule

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is the invocation AWS Config sends a custom Lambda rule, as its JSON has it.
type Event struct {
	Version string `json:"version"`
	// InvokingEvent is a JSON document in a string; Parse decodes it.
	InvokingEvent string `json:"invokingEvent"`
	// RuleParameters is the rule's input parameters, a JSON object in a string; may be empty.
	RuleParameters   string `json:"ruleParameters,omitempty"`
	ResultToken      string `json:"resultToken"`
	EventLeftScope   bool   `json:"eventLeftScope"`
	ExecutionRoleARN string `json:"executionRoleArn"`
	ConfigRuleARN    string `json:"configRuleArn,omitempty"`
	ConfigRuleName   string `json:"configRuleName"`
	ConfigRuleID     string `json:"configRuleId,omitempty"`
	AccountID        string `json:"accountId"`
	EvaluationMode   string `json:"evaluationMode,omitempty"`
}

// MessageType is the invoking event's messageType.
type MessageType string

const (
	// MessageScheduled is the periodic trigger this rule is deployed with.
	MessageScheduled MessageType = "ScheduledNotification"
	// MessageChange is a configuration change of a resource in the rule's scope.
	MessageChange MessageType = "ConfigurationItemChangeNotification"
	// MessageOversizedChange is MessageChange for a configuration item too large for the event:
	// only a summary of the item is given.
	MessageOversizedChange MessageType = "OversizedConfigurationItemChangeNotification"
)

// Errors Parse returns, wrapped with the detail.
var (
	// ErrNoResultToken: the event has no resultToken, so no evaluation can be sent for it.
	ErrNoResultToken = errors.New("config rule event has no resultToken")
	// ErrInvalidEvent: the event or its invokingEvent is malformed or lacks a required field.
	ErrInvalidEvent = errors.New("invalid config rule event")
	// ErrUnsupportedMessage: the invokingEvent's messageType is none of the three known.
	ErrUnsupportedMessage = errors.New("unsupported config rule message type")
)

// Invocation is a parsed Event.
type Invocation struct {
	Event Event
	// MessageType is the invoking event's messageType.
	MessageType MessageType
	// NotificationTime is the invoking event's notificationCreationTime: every evaluation's
	// OrderingTimestamp.
	NotificationTime time.Time
	// AccountID is the account evaluated: the invoking event's awsAccountId, else the event's
	// accountId, else the changed configuration item's awsAccountId.
	AccountID string
	// Parameters are the rule parameters; a value that is not a JSON string is kept as its JSON
	// text. Empty when the rule has none.
	Parameters map[string]string
	// Changed is the resource a change notification is about (from its configuration item or,
	// when oversized, the item's summary); nil for a scheduled notification.
	Changed *Resource
}

// Periodic reports whether the invocation is the periodic trigger.
func (inv Invocation) Periodic() bool { return inv.MessageType == MessageScheduled }

// Resource is the resource a change notification names.
type Resource struct {
	Type        string // e.g. AWS::IAM::User
	ID          string // for an IAM user, its UserId
	Name        string
	Status      string // configurationItemStatus: OK, ResourceDiscovered, ResourceDeleted, ...
	CaptureTime time.Time
}

// invokingEvent is the JSON inside Event.InvokingEvent, for the three message types.
type invokingEvent struct {
	MessageType              MessageType        `json:"messageType"`
	NotificationCreationTime string             `json:"notificationCreationTime"`
	AWSAccountID             string             `json:"awsAccountId"`
	RecordVersion            string             `json:"recordVersion"`
	ConfigurationItem        *configurationItem `json:"configurationItem"`
	ConfigurationItemSummary *configurationItem `json:"configurationItemSummary"`
}

type configurationItem struct {
	ResourceType                 string `json:"resourceType"`
	ResourceID                   string `json:"resourceId"`
	ResourceName                 string `json:"resourceName"`
	ConfigurationItemStatus      string `json:"configurationItemStatus"`
	ConfigurationItemCaptureTime string `json:"configurationItemCaptureTime"`
	AWSAccountID                 string `json:"awsAccountId"`
}

// Parse decodes a Config rule invocation. It rejects an event without a resultToken
// (ErrNoResultToken), with a malformed invokingEvent or ruleParameters, or without a
// notificationCreationTime (ErrInvalidEvent), and a message type it does not know
// (ErrUnsupportedMessage).
func Parse(raw []byte) (Invocation, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Invocation{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return ParseEvent(e)
}

// ParseEvent is Parse on an event already decoded.
func ParseEvent(e Event) (Invocation, error) {
	if strings.TrimSpace(e.ResultToken) == "" {
		return Invocation{}, fmt.Errorf("%w (rule %q): Config sends one with every invocation; a test event needs one too", ErrNoResultToken, e.ConfigRuleName)
	}
	if strings.TrimSpace(e.InvokingEvent) == "" {
		return Invocation{}, fmt.Errorf("%w: no invokingEvent", ErrInvalidEvent)
	}
	var ie invokingEvent
	if err := json.Unmarshal([]byte(e.InvokingEvent), &ie); err != nil {
		return Invocation{}, fmt.Errorf("%w: invokingEvent is not a JSON object: %v", ErrInvalidEvent, err)
	}
	inv := Invocation{Event: e, MessageType: ie.MessageType}

	switch ie.MessageType {
	case MessageScheduled:
	case MessageChange, MessageOversizedChange:
		item := ie.ConfigurationItem
		if ie.MessageType == MessageOversizedChange {
			item = ie.ConfigurationItemSummary
		}
		if item == nil {
			return Invocation{}, fmt.Errorf("%w: %s without its configuration item", ErrInvalidEvent, ie.MessageType)
		}
		r := &Resource{Type: item.ResourceType, ID: item.ResourceID, Name: item.ResourceName, Status: item.ConfigurationItemStatus}
		if item.ConfigurationItemCaptureTime != "" {
			t, err := time.Parse(time.RFC3339Nano, item.ConfigurationItemCaptureTime)
			if err != nil {
				return Invocation{}, fmt.Errorf("%w: configurationItemCaptureTime %q: %v", ErrInvalidEvent, item.ConfigurationItemCaptureTime, err)
			}
			r.CaptureTime = t
		}
		inv.Changed = r
		if ie.AWSAccountID == "" {
			ie.AWSAccountID = item.AWSAccountID
		}
	case "":
		return Invocation{}, fmt.Errorf("%w: invokingEvent has no messageType", ErrInvalidEvent)
	default:
		return Invocation{}, fmt.Errorf("%w %q: want %s", ErrUnsupportedMessage, ie.MessageType, MessageScheduled)
	}

	if ie.NotificationCreationTime == "" {
		return Invocation{}, fmt.Errorf("%w: invokingEvent has no notificationCreationTime", ErrInvalidEvent)
	}
	t, err := time.Parse(time.RFC3339Nano, ie.NotificationCreationTime)
	if err != nil {
		return Invocation{}, fmt.Errorf("%w: notificationCreationTime %q: %v", ErrInvalidEvent, ie.NotificationCreationTime, err)
	}
	inv.NotificationTime = t.UTC()

	inv.AccountID = ie.AWSAccountID
	if inv.AccountID == "" {
		inv.AccountID = e.AccountID
	}
	if inv.AccountID == "" {
		return Invocation{}, fmt.Errorf("%w: no account ID (neither awsAccountId nor accountId)", ErrInvalidEvent)
	}

	params, err := parseParameters(e.RuleParameters)
	if err != nil {
		return Invocation{}, err
	}
	inv.Parameters = params
	return inv, nil
}

func parseParameters(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return map[string]string{}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("%w: ruleParameters is not a JSON object: %v", ErrInvalidEvent, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if json.Unmarshal(v, &str) == nil {
			out[k] = str
			continue
		}
		out[k] = string(v)
	}
	return out, nil
}
