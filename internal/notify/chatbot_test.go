package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/iamwarden/iamwarden/internal/notify"
)

type chat struct {
	Version, Source, ID string
	Content             struct {
		TextType, Title, Description string
		Keywords                     []string
	}
	Metadata struct {
		ThreadID, Summary, EventType string
		AdditionalContext            map[string]string
	}
}

func TestChat(t *testing.T) {
	for _, tc := range fixtures() {
		t.Run(tc.name, func(t *testing.T) {
			raw := notify.Chat(tc.e)
			var c chat
			if err := json.Unmarshal([]byte(raw), &c); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, raw)
			}
			subject, body, attrs := notify.Render(tc.e)
			if c.Version != "1.0" || c.Source != "custom" || c.Content.TextType != "client-markdown" {
				t.Errorf("header %q %q %q", c.Version, c.Source, c.Content.TextType)
			}
			if c.Content.Title != subject || c.Metadata.Summary != subject || c.Metadata.EventType != string(tc.e.Kind) || c.Metadata.ThreadID != tc.e.RunID {
				t.Errorf("title %q summary %q event %q thread %q", c.Content.Title, c.Metadata.Summary, c.Metadata.EventType, c.Metadata.ThreadID)
			}
			if !strings.HasPrefix(body, c.Content.Description) || strings.Contains(c.Content.Description, "Sent by iamwarden") {
				t.Errorf("description is not the body without its footer:\n%s", c.Content.Description)
			}
			if len(c.Metadata.AdditionalContext) != len(attrs) {
				t.Errorf("context %v, want %v", c.Metadata.AdditionalContext, attrs)
			}
			if c.ID != notify.DeduplicationID(tc.e) {
				t.Errorf("id %q", c.ID)
			}
			if strings.Contains(raw, keyID) {
				t.Errorf("chat message contains an unmasked key ID")
			}
		})
	}
}

func TestChatGolden(t *testing.T) {
	e := fixtures()[0].e
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(notify.Chat(e)), "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\n")
	path := filepath.Join("testdata", "chat-action-done-console-mfa-missing.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n%s", path, buf.String())
	}
}

func TestChatCutsLongDescriptions(t *testing.T) {
	lines := make([]notify.SummaryLine, 500)
	for i := range lines {
		lines[i] = notify.SummaryLine{Principal: "ユーザー", Action: notify.ActionDisableConsole, Status: "done"}
	}
	raw := notify.Chat(notify.Event{Kind: notify.KindRunSummary, AccountID: "111122223333", At: at,
		Summary: &notify.RunSummary{Done: 500, Lines: lines}})
	var c chat
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(c.Content.Description); n > 3500 || !strings.HasSuffix(c.Content.Description, "…") {
		t.Errorf("description has %d runes", n)
	}
}

func TestPublisherChatbotHTTPS(t *testing.T) {
	api := &fakeSNS{publish: func(*sns.PublishInput) (*sns.PublishOutput, error) { return &sns.PublishOutput{}, nil }}
	p := notify.NewPublisher(api, notify.Options{ChatbotHTTPS: true})
	lines := make([]notify.SummaryLine, 20000)
	for i := range lines {
		lines[i] = notify.SummaryLine{Principal: strings.Repeat("ü", 64), Action: notify.ActionDeactivateKey, Resource: keyID, Rule: notify.RuleAccessKeyUnused, Status: "done"}
	}
	events := []notify.Event{fixtures()[0].e, {Kind: notify.KindRunSummary, AccountID: "111122223333", At: at, Summary: &notify.RunSummary{Done: len(lines), Lines: lines}}}
	for i, e := range events {
		if _, err := p.Publish(context.Background(), topic, e); err != nil {
			t.Fatal(err)
		}
		in := api.calls[i]
		if aws.ToString(in.MessageStructure) != "json" {
			t.Fatalf("MessageStructure %q", aws.ToString(in.MessageStructure))
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &m); err != nil {
			t.Fatal(err)
		}
		_, body, _ := notify.Render(e)
		if len(m) != 2 || m["default"] != body || m["https"] != notify.Chat(e) {
			t.Errorf("message structure keys %d, default matches %v, https matches %v", len(m), m["default"] == body, m["https"] == notify.Chat(e))
		}
		size := len(aws.ToString(in.Message)) + len(aws.ToString(in.Subject))
		for k, v := range in.MessageAttributes {
			size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
		}
		if size > 256*1024 {
			t.Errorf("event %d: message is %d bytes, over SNS's 256 KiB", i, size)
		}
	}
}
