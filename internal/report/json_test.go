package report_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// TestWriteJSONStreamsTheOneDocument checks that findings written one at a time make exactly the
// document encoding the whole result gives.
func TestWriteJSONStreamsTheOneDocument(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	findings := []rules.Finding{
		{ID: "1/root-access-key/<root_account>", Rule: "root-access-key", Principal: "<root_account>", State: rules.StateViolation,
			Detail: `a "quoted" & <odd> detail` + "\u2028", Evidence: map[string]any{"keys": []any{1, "two"}, "nested": map[string]any{"a": nil}},
			Controls: []string{"FSBP IAM.4"}, Deadline: &at},
		{ID: "1/user-mfa-missing/bob", Rule: "user-mfa-missing", Principal: "bob", State: rules.StatePending, Evidence: map[string]any{}},
	}
	for _, tc := range []struct {
		name string
		r    report.Result
	}{
		{"findings and calls", report.Result{AccountID: "1", Findings: findings, Calls: map[string]int{"iam:ListAccessKeys": 2}}},
		{"findings", report.Result{AccountID: "1", Findings: findings[1:], Errors: []inventory.Problem{{Where: "x", Message: `"findings": []`}}}},
		{"no findings", report.Result{AccountID: "1", Findings: []rules.Finding{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(&tc.r); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := report.WriteJSON(&got, &tc.r); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("streamed:\n%s\nwant:\n%s", got.String(), want.String())
			}
		})
	}
}
