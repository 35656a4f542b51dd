package notify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/notify"
)

const docPath = "../../docs/notifications.md"

// TestDocsExamples keeps the examples of docs/notifications.md equal to the renderings of the
// fixtures, which TestRenderGolden and TestChatGolden hold equal to the golden files; with
// -update it rewrites them.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var examples bytes.Buffer
	for _, tc := range fixtures() {
		fmt.Fprintf(&examples, "### %s\n\n```text\n%s```\n\n", tc.name, notify.Format(notify.Render(tc.e)))
	}
	var chatExample bytes.Buffer
	if err := json.Indent(&chatExample, []byte(notify.Chat(fixtures()[0].e)), "", "  "); err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	got = replaceBetween(t, got, "<!-- examples:begin -->", "<!-- examples:end -->", "\n"+strings.TrimRight(examples.String(), "\n")+"\n")
	got = replaceBetween(t, got, "<!-- chat-example:begin -->", "<!-- chat-example:end -->", "\n```json\n"+chatExample.String()+"\n```\n")
	if *update {
		if err := os.WriteFile(docPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(doc) {
		t.Errorf("%s is out of date with testdata/*.golden (run go test ./internal/notify -update)", docPath)
	}
}

func replaceBetween(t *testing.T, s, begin, end, with string) string {
	t.Helper()
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks %s ... %s", docPath, begin, end)
	}
	return s[:i+len(begin)] + with + s[j:]
}
