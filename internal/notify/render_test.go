package notify_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/iamwarden/iamwarden/internal/golden"
	"github.com/iamwarden/iamwarden/internal/notify"
)

// update (-update) also rewrites the examples in docs/notifications.md.
var update = golden.Update

// keyID is an access key ID that must never appear unmasked in a message.
const keyID = "AKIAQ3EGRYUL5VBXW7ZT"

var (
	at       = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	deadline = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
)

// fixtures are the example events of the golden files and of docs/notifications.md.
func fixtures() []struct {
	name string
	e    notify.Event
} {
	base := notify.Event{
		AccountID: "123456789012", AccountAlias: "acme-prod", Principal: "alice",
		Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Severity: "high",
		Reason: "console password set 2026-11-19 (4 days ago) has no MFA device; the 24h grace period ended 2026-11-20T09:00:00Z",
		At:     at, RunID: "run-20261123T093000Z", ActionID: "act-7f3a9c",
	}
	with := func(f func(e *notify.Event)) notify.Event {
		e := base
		f(&e)
		return e
	}
	return []struct {
		name string
		e    notify.Event
	}{
		{"action-done-console-mfa-missing", with(func(e *notify.Event) { e.Kind = notify.KindActionDone })},
		{"action-done-password-unused", with(func(e *notify.Event) {
			e.Kind, e.Principal, e.Rule, e.Severity = notify.KindActionDone, "bob", notify.RulePasswordUnused, "medium"
			e.Reason, e.ActionID = "console password last used 2026-07-02 (144 days ago), threshold 90 days", "act-51d0e2"
		})},
		{"action-done-access-key-unused", with(func(e *notify.Event) {
			e.Kind, e.Principal, e.Rule, e.Severity = notify.KindActionDone, "ci-deploy", notify.RuleAccessKeyUnused, "medium"
			e.Action, e.Resource, e.ActionID = notify.ActionDeactivateKey, keyID, "act-0b44e1"
			e.Reason = "active access key " + keyID + " last used 2026-06-01 (175 days ago), threshold 90 days"
		})},
		{"action-done-dry-run", with(func(e *notify.Event) { e.Kind, e.DryRun = notify.KindActionDone, true })},
		{"action-failed", with(func(e *notify.Event) {
			e.Kind = notify.KindActionFailed
			e.Reason = "iam:DeleteLoginProfile: operation error IAM: DeleteLoginProfile, https response error StatusCode: 403, api error AccessDenied: not authorized"
		})},
		{"action-skipped", with(func(e *notify.Event) {
			e.Kind, e.Action, e.Resource, e.Rule, e.Severity = notify.KindActionSkipped, notify.ActionDeactivateKey, keyID, notify.RuleAccessKeyUnused, "medium"
			e.Reason = "exempt until 2026-12-31: break-glass key kept offline (config)"
		})},
		{"grace-started", with(func(e *notify.Event) {
			e.Kind, e.Principal, e.Deadline, e.ActionID = notify.KindGraceStarted, "carol", deadline, ""
			e.Reason = "console password set 2026-11-23T09:00:00Z has no MFA device yet; the 24h grace period ends 2026-11-24T09:00:00Z"
		})},
		{"grace-ending", with(func(e *notify.Event) {
			e.Kind, e.Principal, e.Deadline, e.ActionID = notify.KindGraceEnding, "carol", deadline, ""
			e.At = deadline.Add(-2*time.Hour - 15*time.Minute)
			e.Reason = "console password set 2026-11-23T09:00:00Z has no MFA device yet; the 24h grace period ends 2026-11-24T09:00:00Z"
		})},
		{"run-summary", notify.Event{
			Kind: notify.KindRunSummary, AccountID: "123456789012", AccountAlias: "acme-prod",
			At: at.Add(12 * time.Second), RunID: "run-20261123T093000Z",
			Summary: &notify.RunSummary{Done: 2, Failed: 1, Skipped: 1, Pending: 1, Lines: []notify.SummaryLine{
				{Principal: "alice", Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Status: "done"},
				{Principal: "ci-deploy", Action: notify.ActionDeactivateKey, Resource: keyID, Rule: notify.RuleAccessKeyUnused, Status: "done"},
				{Principal: "bob", Action: notify.ActionDisableConsole, Rule: notify.RulePasswordUnused, Status: "failed"},
				{Principal: "backup", Action: notify.ActionDeactivateKey, Resource: "AKIA2OGYBAH6RLK4N3XM", Rule: notify.RuleAccessKeyUnused, Status: "skipped"},
				{Principal: "carol", Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Status: "pending"},
			}},
		}},
		{"run-summary-report", notify.Event{
			Kind: notify.KindRunSummary, AccountID: "123456789012", AccountAlias: "acme-prod", At: at, DryRun: true,
			Summary: &notify.RunSummary{Pending: 1, Lines: []notify.SummaryLine{
				{Principal: "alice", Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Status: "would-do"},
				{Principal: "ci-deploy", Action: notify.ActionDeactivateKey, Resource: keyID, Rule: notify.RuleAccessKeyUnused, Status: "would-do"},
			}},
		}},
		{"run-summary-report-first", notify.Event{
			Kind: notify.KindRunSummary, AccountID: "123456789012", AccountAlias: "acme-prod", At: at, DryRun: true,
			Summary: &notify.RunSummary{Pending: 1, Changes: &notify.ChangeSummary{First: true}, Lines: []notify.SummaryLine{
				{Principal: "alice", Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Status: "would-do"},
			}},
		}},
		{"run-summary-report-changes", notify.Event{
			Kind: notify.KindRunSummary, AccountID: "123456789012", AccountAlias: "acme-prod", At: at, DryRun: true,
			Summary: &notify.RunSummary{Pending: 1, Lines: []notify.SummaryLine{
				{Principal: "ci-deploy", Action: notify.ActionDeactivateKey, Resource: keyID, Rule: notify.RuleAccessKeyUnused, Status: "would-do"},
			}, Changes: &notify.ChangeSummary{
				Since: at.Add(-time.Hour), UnchangedActions: 3,
				New: []notify.ChangeLine{
					{Principal: "ci-deploy", Rule: notify.RuleAccessKeyUnused, Severity: "medium", Resource: keyID, After: "violation"},
					{Principal: "carol", Rule: notify.RuleConsoleMFAMissing, Severity: "high", After: "pending", Deadline: deadline},
				},
				Resolved: []notify.ChangeLine{{Principal: "dave", Rule: notify.RuleConsoleMFAMissing, Severity: "high", Before: "violation"}},
				Changed:  []notify.ChangeLine{{Principal: "erin", Rule: notify.RuleConsoleMFAMissing, Severity: "high", Before: "pending", After: "violation"}},
			}},
		}},
		{"run-summary-changes", notify.Event{
			Kind: notify.KindRunSummary, AccountID: "123456789012", AccountAlias: "acme-prod",
			At: at.Add(12 * time.Second), RunID: "run-20261123T093000Z",
			Summary: &notify.RunSummary{Done: 1, Failed: 1, Lines: []notify.SummaryLine{
				{Principal: "alice", Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, Status: "done"},
			}, Changes: &notify.ChangeSummary{
				Since: at.Add(-time.Hour), Partial: true, UnchangedActions: 1,
				New:    []notify.ChangeLine{{Principal: "alice", Rule: notify.RuleConsoleMFAMissing, Severity: "high", After: "violation"}},
				Unseen: []notify.ChangeLine{{Principal: "backup", Rule: notify.RuleAccessKeyUnused, Severity: "medium", Resource: "AKIA2OGYBAH6RLK4N3XM", Before: "violation"}},
			}},
		}},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range fixtures() {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.e.Validate(); err != nil {
				t.Fatalf("fixture is invalid: %v", err)
			}
			got := notify.Format(notify.Render(tc.e))
			path := filepath.Join("testdata", tc.name+".golden")
			golden.Check(t, path, got)
		})
	}
}

// TestRenderInvariants checks what SNS and the readers need of every fixture.
func TestRenderInvariants(t *testing.T) {
	kinds := map[notify.EventKind]bool{}
	for _, tc := range fixtures() {
		t.Run(tc.name, func(t *testing.T) {
			kinds[tc.e.Kind] = true
			subject, body, attrs := notify.Render(tc.e)
			checkSubject(t, subject)
			if !utf8.ValidString(body) {
				t.Errorf("body is not valid UTF-8")
			}
			all := subject + body
			for _, v := range attrs {
				all += v
			}
			for _, raw := range []string{keyID, "AKIA2OGYBAH6RLK4N3XM"} {
				if strings.Contains(all, raw) {
					t.Errorf("message contains the unmasked key ID %s", raw)
				}
			}
			if attrs[notify.AttrEvent] != string(tc.e.Kind) || attrs[notify.AttrAccount] != tc.e.AccountID {
				t.Errorf("attributes %v lack event %s or account %s", attrs, tc.e.Kind, tc.e.AccountID)
			}
			for name, want := range map[string]string{notify.AttrRule: tc.e.Rule, notify.AttrSeverity: tc.e.Severity, notify.AttrAction: tc.e.Action} {
				if got, ok := attrs[name]; got != want || ok != (want != "") {
					t.Errorf("attribute %s = %q (present %v), want %q", name, got, ok, want)
				}
			}
			if tc.e.Kind != notify.KindRunSummary && !strings.Contains(body, tc.e.Principal) {
				t.Errorf("body does not name the user %s", tc.e.Principal)
			}
			if tc.e.DryRun != strings.HasPrefix(body, "DRY RUN") {
				t.Errorf("dry run %v but body starts %q", tc.e.DryRun, body[:20])
			}
		})
	}
	for _, k := range notify.Kinds() {
		if !kinds[k] {
			t.Errorf("no fixture of kind %s", k)
		}
	}
}

func checkSubject(t *testing.T, subject string) {
	t.Helper()
	if n := utf8.RuneCountInString(subject); n > notify.MaxSubjectRunes || n == 0 {
		t.Errorf("subject has %d runes: %q", n, subject)
	}
	if !utf8.ValidString(subject) {
		t.Errorf("subject is not valid UTF-8: %q", subject)
	}
	if strings.ContainsAny(subject, "\r\n\t") {
		t.Errorf("subject contains a line break or tab: %q", subject)
	}
	if subject[0] >= 0x80 || subject[0] <= ' ' {
		t.Errorf("subject starts with %q", subject[0])
	}
}

func TestRenderRegainAccessPerRule(t *testing.T) {
	tests := []struct {
		rule, action string
		want         []string
		not          []string
	}{
		{notify.RuleConsoleMFAMissing, notify.ActionDisableConsole,
			[]string{"IAM > Users > dave > Security credentials > Assign MFA device", "`iamwarden undo act-1`", "sign out and back in"},
			[]string{"reactivate"}},
		{notify.RulePasswordUnused, notify.ActionDisableConsole,
			[]string{"ask an administrator to restore console access (`iamwarden undo act-1`)"},
			[]string{"Assign MFA device", "reactivate"}},
		{notify.RuleAccessKeyUnused, notify.ActionDeactivateKey,
			[]string{"AKIA…W7ZT was deactivated, not deleted", "reactivate it (`iamwarden undo act-1`)", "Create access key", "update the application's credentials"},
			[]string{"Assign MFA device", keyID}},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			_, body, _ := notify.Render(notify.Event{
				Kind: notify.KindActionDone, AccountID: "111122223333", Principal: "dave", Action: tc.action,
				Resource: map[bool]string{true: keyID}[tc.action == notify.ActionDeactivateKey],
				Rule:     tc.rule, At: at, ActionID: "act-1",
			})
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("body contains %q:\n%s", n, body)
				}
			}
		})
	}
}

func TestRenderGraceDeadline(t *testing.T) {
	e := notify.Event{Kind: notify.KindGraceStarted, AccountID: "111122223333", Principal: "erin",
		Action: notify.ActionDisableConsole, Rule: notify.RuleConsoleMFAMissing, At: at, Deadline: at.Add(25*time.Hour + 40*time.Second)}
	subject, body, _ := notify.Render(e)
	for _, w := range []string{"You have until 2026-11-24 10:30 UTC (in 1 day 1 hour) to register MFA", "Sign out and back in after registering"} {
		if !strings.Contains(body, w) {
			t.Errorf("grace-started body lacks %q:\n%s", w, body)
		}
	}
	if want := "[iamwarden] Action required: register MFA for erin by 2026-11-24 10:30 UTC"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}
	e.Kind, e.At = notify.KindGraceEnding, e.Deadline.Add(-59*time.Minute)
	_, body, _ = notify.Render(e)
	if w := "loses console access at 2026-11-24 10:30 UTC (in 59 minutes)"; !strings.Contains(body, w) {
		t.Errorf("grace-ending body lacks %q:\n%s", w, body)
	}
}

func TestSubject(t *testing.T) {
	hundred := strings.Repeat("a", 99) + "é"
	tests := []struct {
		name, in, want string
	}{
		{"short", "[iamwarden] hello", "[iamwarden] hello"},
		{"exactly the limit", hundred, hundred},
		{"one over the limit", hundred + "b", strings.Repeat("a", 99) + "…"},
		{"multi-byte runes at the cut", "x" + strings.Repeat("ü", 150), "x" + strings.Repeat("ü", 98) + "…"},
		{"cut before a space", strings.Repeat("a", 98) + " bbbb", strings.Repeat("a", 98) + "…"},
		{"line breaks and tabs", "one\r\ntwo\tthree\u0085four", "one two three four"},
		{"leading non-ASCII", "Ünïcode subject", "- Ünïcode subject"},
		{"leading spaces", "   x", "x"},
		{"empty", "\n", "iamwarden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := notify.Subject(tc.in)
			if got != tc.want {
				t.Errorf("Subject(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkSubject(t, got)
		})
	}
}

func TestRenderLongUnicodePrincipal(t *testing.T) {
	e := notify.Event{Kind: notify.KindActionDone, AccountID: "111122223333", AccountAlias: "acme",
		Principal: strings.Repeat("ユーザー", 30), Action: notify.ActionDeactivateKey, Resource: keyID,
		Rule: notify.RuleAccessKeyUnused, At: at}
	subject, body, _ := notify.Render(e)
	checkSubject(t, subject)
	if utf8.RuneCountInString(subject) != notify.MaxSubjectRunes || !strings.HasSuffix(subject, "…") {
		t.Errorf("long subject not cut to %d runes with an ellipsis: %q", notify.MaxSubjectRunes, subject)
	}
	if !strings.Contains(body, e.Principal) {
		t.Errorf("body lost the full user name")
	}
}

func TestRenderMasksKeysInFreeText(t *testing.T) {
	e := notify.Event{Kind: notify.KindActionFailed, AccountID: "111122223333", Principal: "frank",
		Action: notify.ActionDeactivateKey, Resource: "AKIAEXAMPLEKEY000001", At: at,
		Reason: "UpdateAccessKey AKIAEXAMPLEKEY000001 failed; temporary key ASIAXY7GH2K4PQR9ZZ01 in use\nsecond line"}
	subject, body, _ := notify.Render(e)
	for _, raw := range []string{"AKIAEXAMPLEKEY000001", "ASIAXY7GH2K4PQR9ZZ01"} {
		if strings.Contains(subject+body, raw) {
			t.Errorf("unmasked %s in:\n%s\n%s", raw, subject, body)
		}
	}
	for _, masked := range []string{"AKIA…0001", "ASIA…ZZ01"} {
		if !strings.Contains(body, masked) {
			t.Errorf("body lacks %s:\n%s", masked, body)
		}
	}
	if !strings.Contains(body, "in use second line") {
		t.Errorf("multi-line reason not joined into one field line:\n%s", body)
	}
}

func TestRenderSummaryStaysUnderSNSLimit(t *testing.T) {
	lines := make([]notify.SummaryLine, 20000)
	for i := range lines {
		lines[i] = notify.SummaryLine{Principal: strings.Repeat("u", 60), Action: notify.ActionDeactivateKey,
			Resource: keyID, Rule: notify.RuleAccessKeyUnused, Status: "pending"}
	}
	e := notify.Event{Kind: notify.KindRunSummary, AccountID: "111122223333", At: at,
		Summary: &notify.RunSummary{Pending: len(lines), Lines: lines}}
	subject, body, attrs := notify.Render(e)
	size := len(subject) + len(body)
	for k, v := range attrs {
		size += len(k) + len(v) + len("String")
	}
	if size > 256*1024 {
		t.Errorf("message is %d bytes, over SNS's 256 KiB", size)
	}
	if !strings.Contains(body, "more (see the journal of the run)") {
		t.Errorf("a cut summary does not say so")
	}
	if strings.Count(body, "\n") < 1000 {
		t.Errorf("summary shows only %d lines", strings.Count(body, "\n"))
	}
}

func TestValidate(t *testing.T) {
	ok := notify.Event{Kind: notify.KindActionDone, AccountID: "111122223333", Principal: "a", Action: notify.ActionDisableConsole, At: at}
	tests := []struct {
		name string
		mod  func(e *notify.Event)
		want string
	}{
		{"valid", func(*notify.Event) {}, ""},
		{"unknown kind", func(e *notify.Event) { e.Kind = "exploded" }, `unknown kind "exploded"`},
		{"no account", func(e *notify.Event) { e.AccountID = "" }, "account ID is empty"},
		{"no time", func(e *notify.Event) { e.At = time.Time{} }, "time is zero"},
		{"no principal", func(e *notify.Event) { e.Principal = "" }, "principal is empty"},
		{"grace without deadline", func(e *notify.Event) { e.Kind = notify.KindGraceEnding }, "without a deadline"},
		{"summary without summary", func(e *notify.Event) { e.Kind = notify.KindRunSummary }, "without a summary"},
		{"changes without their time", func(e *notify.Event) {
			e.Kind, e.Summary = notify.KindRunSummary, &notify.RunSummary{Changes: &notify.ChangeSummary{}}
		}, "without the time of the previous sweep"},
		{"first sweep with changes", func(e *notify.Event) {
			e.Kind, e.Summary = notify.KindRunSummary, &notify.RunSummary{Changes: &notify.ChangeSummary{First: true,
				New: []notify.ChangeLine{{Principal: "a"}}}}
		}, "first sweep compare with nothing"},
		{"changes", func(e *notify.Event) {
			e.Kind, e.Summary = notify.KindRunSummary, &notify.RunSummary{Changes: &notify.ChangeSummary{Since: at,
				New: []notify.ChangeLine{{Principal: "a"}}}}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ok
			tc.mod(&e)
			err := e.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRenderChangesAreCappedAndMasked(t *testing.T) {
	c := &notify.ChangeSummary{Since: at.Add(-time.Hour)}
	for i := range notify.MaxChangeLines + 7 {
		c.New = append(c.New, notify.ChangeLine{Principal: fmt.Sprintf("user-%03d", i), Rule: notify.RuleAccessKeyUnused,
			Severity: "medium", Resource: "AKIAQ3EGRYUL5VBX" + fmt.Sprintf("%04d", i), After: "violation"})
	}
	for i := range 20000 {
		c.Resolved = append(c.Resolved, notify.ChangeLine{Principal: strings.Repeat("r", 60) + strconv.Itoa(i), Rule: notify.RuleConsoleMFAMissing, Before: "violation"})
	}
	e := notify.Event{Kind: notify.KindRunSummary, AccountID: "111122223333", At: at, DryRun: true,
		Summary: &notify.RunSummary{Changes: c}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	subject, body, _ := notify.Render(e)
	for _, want := range []string{"New:      57", "Resolved: 20000", "… and 7 more.", "… and 19950 more.", "user-049", "AKIA…0049"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "user-050") || strings.Contains(body, "AKIAQ3EGRYUL5VBX") {
		t.Errorf("body lists more than %d lines of a kind, or an unmasked key", notify.MaxChangeLines)
	}
	if size := len(subject) + len(body); size > 64*1024 {
		t.Errorf("message is %d bytes for capped changes", size)
	}
	if !strings.Contains(subject, "57 new, 20000 resolved, 0 changed, 0 planned") {
		t.Errorf("subject %q does not count the changes", subject)
	}
}

func TestRenderPartialChangesSayTheyAreIncomplete(t *testing.T) {
	e := notify.Event{Kind: notify.KindRunSummary, AccountID: "111122223333", At: at, DryRun: true,
		Summary: &notify.RunSummary{Changes: &notify.ChangeSummary{Since: at.Add(-time.Hour), Partial: true,
			Unseen: []notify.ChangeLine{{Principal: "bob", Rule: notify.RuleConsoleMFAMissing, Before: "violation"}}}}}
	_, body, _ := notify.Render(e)
	for _, want := range []string{"changes may be incomplete", "Unseen:   1", "violation → unseen", "Resolved: 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "→ resolved") {
		t.Errorf("a partial sweep calls a finding resolved:\n%s", body)
	}
}
