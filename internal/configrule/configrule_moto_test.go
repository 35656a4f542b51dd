package configrule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"

	"github.com/iamwarden/iamwarden/internal/configrule"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestMotoPutRecordsEvaluations(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	c := configservice.NewFromConfig(srv.Config(ctx))

	// What a ScheduledNotification invocation carries: a result token and its creation time.
	token, notified := "eyJyZXN1bHRUb2tlbiI6InRlc3QifQ==", time.Date(2026, 12, 2, 6, 0, 12, 0, time.UTC)
	users := []configrule.User{
		{Name: "alice", UserID: "AIDAALICEALICEALICE11", Findings: []rules.Finding{
			finding("console-mfa-missing", rules.StatePending, withDeadline(due), withDetail(strings.Repeat("ユーザー ", 80))),
			finding("access-key-unused", rules.StateViolation, withKey(keyID)),
		}},
		{Name: "dave", UserID: "AIDADAVEDAVEDAVEDAVE1", Findings: []rules.Finding{
			finding("console-mfa-missing", rules.StateExempt, withExemption(rules.Exemption{Reason: "break-glass", Source: "tag", Until: &expires}))}},
		{Name: "carol", UserID: "AIDACAROLCAROLCAROL11", NotJudged: "GetUser: throttled"},
	}
	for i := range 247 {
		users = append(users, configrule.User{Name: fmt.Sprintf("user-%03d", i), UserID: fmt.Sprintf("AIDAUSER%013d", i)})
	}
	evs, skipped := configrule.Evaluations(users, notified)
	if len(evs) != 249 || len(skipped) != 1 {
		t.Fatalf("%d evaluations, %d skipped", len(evs), len(skipped))
	}

	rep, err := configrule.Put(ctx, c, token, evs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 3 || rep.Sent != 249 || len(rep.Failed) != 0 {
		t.Errorf("report %+v", rep)
	}
	got := srv.ConfigEvaluations()
	if len(got) != len(evs) {
		t.Fatalf("recorded %d evaluations, want %d", len(got), len(evs))
	}
	for i, ev := range evs {
		g := got[i]
		if g.ResultToken != token || g.ResourceType != "AWS::IAM::User" ||
			g.ResourceID != aws.ToString(ev.ComplianceResourceId) || g.ComplianceType != string(ev.ComplianceType) ||
			g.Annotation != aws.ToString(ev.Annotation) || !g.OrderingTimestamp.Equal(notified) {
			t.Errorf("recorded %d = %+v, sent %s %s %q", i, g, aws.ToString(ev.ComplianceResourceId), ev.ComplianceType, aws.ToString(ev.Annotation))
		}
	}
	if got[0].ComplianceType != "NON_COMPLIANT" || !strings.HasPrefix(got[0].Annotation, "violates access-key-unused AKIA…MPLE; pending console-mfa-missing until 2026-12-02T10:00:00Z") ||
		strings.Contains(got[0].Annotation, keyID) {
		t.Errorf("alice recorded as %+v", got[0])
	}
	if got[1].ComplianceType != "NOT_APPLICABLE" || got[2].ComplianceType != "COMPLIANT" {
		t.Errorf("dave and user-000 recorded as %s and %s", got[1].ComplianceType, got[2].ComplianceType)
	}

	t.Run("failed evaluations", func(t *testing.T) {
		srv.TakeConfigEvaluations()
		srv.FailConfigEvaluations("AIDADAVEDAVEDAVEDAVE1")
		defer srv.FailConfigEvaluations()
		rep, err := configrule.Put(ctx, c, token, evs[:3])
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Failed) != 1 || aws.ToString(rep.Failed[0].ComplianceResourceId) != "AIDADAVEDAVEDAVEDAVE1" ||
			rep.Failed[0].ComplianceType != types.ComplianceTypeNotApplicable || rep.Recorded() != 2 {
			t.Errorf("report %+v", rep)
		}
		if n := len(srv.TakeConfigEvaluations()); n != 2 {
			t.Errorf("recorded %d, want 2", n)
		}
	})

	t.Run("test mode", func(t *testing.T) {
		rep, err := configrule.Put(ctx, c, "TESTMODE", evs, configrule.TestMode())
		if err != nil || rep.Calls != 3 || !rep.TestMode {
			t.Fatalf("Put(TestMode) = %+v, %v", rep, err)
		}
		if n := len(srv.TakeConfigEvaluations()); n != 0 {
			t.Errorf("test mode recorded %d", n)
		}
	})

	t.Run("rejected call", func(t *testing.T) {
		bad := append([]types.Evaluation{}, evs[:150]...)
		bad[120].ComplianceType = types.ComplianceTypeInsufficientData
		_, err := configrule.Put(ctx, c, token, bad)
		var apiErr interface{ ErrorCode() string }
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" ||
			!strings.Contains(err.Error(), "after 100 of 150 evaluations were sent") {
			t.Fatalf("Put = %v", err)
		}
		if n := len(srv.TakeConfigEvaluations()); n != 100 {
			t.Errorf("recorded %d, want the first call's 100", n)
		}
	})
}
