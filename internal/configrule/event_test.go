package configrule_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/configrule"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseScheduled(t *testing.T) {
	inv, err := configrule.Parse(fixture(t, "scheduled.json"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.MessageType != configrule.MessageScheduled || !inv.Periodic() {
		t.Errorf("MessageType = %q", inv.MessageType)
	}
	if want := time.Date(2026, 11, 30, 10, 0, 0, 373_000_000, time.UTC); !inv.NotificationTime.Equal(want) {
		t.Errorf("NotificationTime = %v, want %v", inv.NotificationTime, want)
	}
	if inv.AccountID != "123456789012" || inv.Event.ResultToken != "eyJlbmNyeXB0ZWREYXRhIjpbXX0=" ||
		inv.Event.ConfigRuleName != "iamwarden-iam-users" || inv.Event.EventLeftScope || inv.Changed != nil {
		t.Errorf("invocation %+v", inv)
	}
	if inv.Parameters["unusedDays"] != "45" || inv.Parameters["strict"] != "true" || len(inv.Parameters) != 2 {
		t.Errorf("Parameters = %v", inv.Parameters)
	}
}

func TestParseChangeNotifications(t *testing.T) {
	tests := []struct {
		file     string
		msg      configrule.MessageType
		at       time.Time
		status   string
		left     bool
		tokenEnd string
	}{
		{"change.json", configrule.MessageChange, time.Date(2026, 11, 30, 10, 0, 1, 0, time.UTC), "OK", false, "change"},
		{"oversized.json", configrule.MessageOversizedChange, time.Date(2026, 11, 30, 10, 0, 2, 0, time.UTC), "ResourceDeleted", true, "oversized"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			inv, err := configrule.Parse(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if inv.MessageType != tc.msg || inv.Periodic() {
				t.Errorf("MessageType = %q", inv.MessageType)
			}
			if !inv.NotificationTime.Equal(tc.at) || inv.AccountID != "123456789012" || inv.Event.EventLeftScope != tc.left ||
				!strings.HasSuffix(inv.Event.ResultToken, tc.tokenEnd) {
				t.Errorf("invocation %+v", inv)
			}
			want := configrule.Resource{Type: "AWS::IAM::User", ID: "AIDAEXAMPLEEXAMPLE123", Name: "alice", Status: tc.status,
				CaptureTime: time.Date(2026, 11, 30, 9, 58, 12, 100_000_000, time.UTC)}
			if inv.Changed == nil || !inv.Changed.CaptureTime.Equal(want.CaptureTime) {
				t.Fatalf("Changed = %+v, want %+v", inv.Changed, want)
			}
			got := *inv.Changed
			got.CaptureTime = want.CaptureTime
			if got != want {
				t.Errorf("Changed = %+v, want %+v", got, want)
			}
			if len(inv.Parameters) != 0 {
				t.Errorf("Parameters = %v", inv.Parameters)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		file string
		want error
	}{
		{"no-result-token.json", configrule.ErrNoResultToken},
		{"invoking-event-not-json.json", configrule.ErrInvalidEvent},
		{"no-notification-time.json", configrule.ErrInvalidEvent},
		{"unknown-message-type.json", configrule.ErrUnsupportedMessage},
		{"rule-parameters-not-json.json", configrule.ErrInvalidEvent},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := configrule.Parse(fixture(t, tc.file))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		if _, err := configrule.Parse([]byte("[")); !errors.Is(err, configrule.ErrInvalidEvent) {
			t.Fatalf("Parse = %v", err)
		}
	})
	t.Run("no invokingEvent", func(t *testing.T) {
		if _, err := configrule.ParseEvent(configrule.Event{ResultToken: "t"}); !errors.Is(err, configrule.ErrInvalidEvent) {
			t.Fatalf("ParseEvent = %v", err)
		}
	})
	t.Run("no account", func(t *testing.T) {
		_, err := configrule.ParseEvent(configrule.Event{ResultToken: "t",
			InvokingEvent: `{"notificationCreationTime":"2026-11-30T10:00:00Z","messageType":"ScheduledNotification"}`})
		if !errors.Is(err, configrule.ErrInvalidEvent) {
			t.Fatalf("ParseEvent = %v", err)
		}
	})
	t.Run("account from the event when the invoking event has none", func(t *testing.T) {
		inv, err := configrule.ParseEvent(configrule.Event{ResultToken: "t", AccountID: "210987654321",
			InvokingEvent: `{"notificationCreationTime":"2026-11-30T10:00:00Z","messageType":"ScheduledNotification"}`})
		if err != nil || inv.AccountID != "210987654321" {
			t.Fatalf("ParseEvent = %+v, %v", inv, err)
		}
	})
}
