package remediate_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// A user in a grace period is warned once when it starts and once more when the deadline is
// near, however often enforcement runs; a new password (a new deadline) starts over.
func TestGraceWarningsOnceEach(t *testing.T) {
	ctx := context.Background()
	j := openJournal(t)
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	deadline := start.Add(24 * time.Hour)
	pending := func(d time.Time) remediate.Plan {
		return remediate.Plan{AccountID: "123456789012", Pending: []rules.Finding{{
			ID: "123456789012/console-mfa-missing/newbie", Rule: "console-mfa-missing", Severity: rules.SeverityHigh,
			State: rules.StatePending, Deadline: &d, Principal: "newbie", Detail: "console password set without MFA"}}}
	}
	var sent bytes.Buffer
	run := func(now time.Time, p remediate.Plan) []remediate.Warning {
		t.Helper()
		e := &remediate.Executor{Journal: j, Notifier: notify.NewWriter(&sent), Topic: "arn:aws:sns:us-east-1:123456789012:t",
			WarnBefore: 6 * time.Hour, MaxActions: 25, Now: func() time.Time { return now }, IDs: journal.NewIDGenerator(func() time.Time { return now }, nil)}
		out, err := e.Run(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return out.Warnings
	}
	kinds := func(ws []remediate.Warning) string {
		var s []string
		for _, w := range ws {
			s = append(s, string(w.Kind)+":"+w.Status)
		}
		return strings.Join(s, ",")
	}
	steps := []struct {
		name string
		now  time.Time
		plan remediate.Plan
		want string
	}{
		{"grace starts", start.Add(time.Hour), pending(deadline), "grace-started:sent"},
		{"an hour later", start.Add(2 * time.Hour), pending(deadline), ""},
		{"five hours before the deadline", deadline.Add(-5 * time.Hour), pending(deadline), "grace-ending:sent"},
		{"an hour before the deadline", deadline.Add(-time.Hour), pending(deadline), ""},
		{"a new password, a new deadline", deadline.Add(48 * time.Hour), pending(deadline.Add(72 * time.Hour)), "grace-started:sent"},
	}
	for _, s := range steps {
		if got := kinds(run(s.now, s.plan)); got != s.want {
			t.Errorf("%s: warnings %q, want %q", s.name, got, s.want)
		}
	}
	if n := strings.Count(sent.String(), "newbie"); n < 3 {
		t.Errorf("%d messages name the user, want at least 3:\n%s", n, sent.String())
	}
	notes, err := j.List(ctx, journal.Filter{Kinds: []journal.Kind{journal.KindNotify}})
	if err != nil || len(notes) != 3 {
		t.Errorf("journal holds %d notifications (%v), want 3", len(notes), err)
	}
}
