package notify

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxChatRunes bounds the description of a chat notification; chat clients cut or reject
// longer messages.
const maxChatRunes = 3500

// chatNotification is the custom notification format of Amazon Q Developer in chat
// applications (formerly AWS Chatbot), which ignores plain-text SNS messages.
type chatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  chatContent  `json:"content"`
	Metadata chatMetadata `json:"metadata"`
}

type chatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Keywords    []string `json:"keywords,omitempty"`
}

type chatMetadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// Chat renders e as a custom notification for Amazon Q Developer in chat applications (AWS
// Chatbot) in Slack, Microsoft Teams or Amazon Chime: the subject as title, the body as
// description (cut to a few thousand characters), the attributes as keywords and context, and
// the run as thread.
func Chat(e Event) string {
	subject, body, attrs := Render(e)
	body = strings.TrimRightFunc(strings.TrimSuffix(body, footer), unicode.IsSpace)
	if utf8.RuneCountInString(body) > maxChatRunes {
		runes := []rune(body)
		body = string(runes[:maxChatRunes-1]) + "…"
	}
	var keywords []string
	for _, k := range []string{AttrEvent, AttrRule, AttrSeverity, AttrAccount} {
		if v := attrs[k]; v != "" {
			keywords = append(keywords, v)
		}
	}
	n := chatNotification{
		Version: "1.0",
		Source:  "custom",
		ID:      DeduplicationID(e),
		Content: chatContent{TextType: "client-markdown", Title: subject, Description: body, Keywords: keywords},
		Metadata: chatMetadata{
			ThreadID: e.RunID, Summary: subject, EventType: string(e.Kind), AdditionalContext: attrs,
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(n) // only strings and maps of strings: cannot fail
	return strings.TrimSuffix(buf.String(), "\n")
}
