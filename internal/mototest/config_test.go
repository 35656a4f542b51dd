package mototest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

func evaluation(id string, ct types.ComplianceType, annotation string, at time.Time) types.Evaluation {
	ev := types.Evaluation{ComplianceResourceType: aws.String("AWS::IAM::User"), ComplianceResourceId: aws.String(id),
		ComplianceType: ct, OrderingTimestamp: aws.Time(at)}
	if annotation != "" {
		ev.Annotation = aws.String(annotation)
	}
	return ev
}

func TestConfigEvaluationsRecorded(t *testing.T) {
	srv := mototest.Shared(t)
	other := mototest.Shared(t)
	ctx := context.Background()
	c := configservice.NewFromConfig(srv.Config(ctx))
	at := time.Date(2026, 11, 30, 10, 0, 0, 373_000_000, time.UTC)

	out, err := c.PutEvaluations(ctx, &configservice.PutEvaluationsInput{ResultToken: aws.String("token-1"), Evaluations: []types.Evaluation{
		evaluation("AIDAAAAAAAAAAAAAAAAAA", types.ComplianceTypeNonCompliant, "console-mfa-missing: no MFA", at),
		evaluation("AIDABBBBBBBBBBBBBBBBB", types.ComplianceTypeCompliant, "", at),
	}})
	if err != nil {
		t.Fatalf("PutEvaluations: %v", err)
	}
	if len(out.FailedEvaluations) != 0 {
		t.Fatalf("FailedEvaluations = %+v", out.FailedEvaluations)
	}
	want := []mototest.ConfigEvaluation{
		{ResultToken: "token-1", Region: mototest.Region, ResourceType: "AWS::IAM::User", ResourceID: "AIDAAAAAAAAAAAAAAAAAA",
			ComplianceType: "NON_COMPLIANT", Annotation: "console-mfa-missing: no MFA", OrderingTimestamp: at},
		{ResultToken: "token-1", Region: mototest.Region, ResourceType: "AWS::IAM::User", ResourceID: "AIDABBBBBBBBBBBBBBBBB",
			ComplianceType: "COMPLIANT", OrderingTimestamp: at},
	}
	got := srv.ConfigEvaluations()
	if len(got) != len(want) {
		t.Fatalf("recorded %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("evaluation %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := other.ConfigEvaluations(); len(got) != 0 {
		t.Errorf("another account recorded %+v", got)
	}

	t.Run("test mode records nothing", func(t *testing.T) {
		srv.TakeConfigEvaluations()
		_, err := c.PutEvaluations(ctx, &configservice.PutEvaluationsInput{ResultToken: aws.String("TESTMODE"), TestMode: true,
			Evaluations: []types.Evaluation{evaluation("AIDACCCCCCCCCCCCCCCCC", types.ComplianceTypeCompliant, "", at)}})
		if err != nil {
			t.Fatalf("PutEvaluations(TestMode): %v", err)
		}
		if got := srv.ConfigEvaluations(); len(got) != 0 {
			t.Errorf("test mode recorded %+v", got)
		}
	})

	t.Run("failures", func(t *testing.T) {
		srv.FailConfigEvaluations("AIDAFAILFAILFAILFAIL1")
		defer srv.FailConfigEvaluations()
		out, err := c.PutEvaluations(ctx, &configservice.PutEvaluationsInput{ResultToken: aws.String("token-2"), Evaluations: []types.Evaluation{
			evaluation("AIDAFAILFAILFAILFAIL1", types.ComplianceTypeCompliant, "", at),
			evaluation("AIDAOKOKOKOKOKOKOKOK1", types.ComplianceTypeCompliant, "", at),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.FailedEvaluations) != 1 || aws.ToString(out.FailedEvaluations[0].ComplianceResourceId) != "AIDAFAILFAILFAILFAIL1" {
			t.Errorf("FailedEvaluations = %+v", out.FailedEvaluations)
		}
		if got := srv.TakeConfigEvaluations(); len(got) != 1 || got[0].ResourceID != "AIDAOKOKOKOKOKOKOKOK1" {
			t.Errorf("recorded %+v", got)
		}
	})

	invalid := []struct {
		name  string
		in    *configservice.PutEvaluationsInput
		codes []string
	}{
		{"101 evaluations", &configservice.PutEvaluationsInput{ResultToken: aws.String("t"), Evaluations: func() []types.Evaluation {
			evs := make([]types.Evaluation, 101)
			for i := range evs {
				evs[i] = evaluation("AIDAXXXXXXXXXXXXXXXXX", types.ComplianceTypeCompliant, "", at)
			}
			return evs
		}()}, []string{"ValidationException"}},
		{"annotation of 257 characters", &configservice.PutEvaluationsInput{ResultToken: aws.String("t"), Evaluations: []types.Evaluation{
			evaluation("AIDAXXXXXXXXXXXXXXXXX", types.ComplianceTypeNonCompliant, string(make([]byte, 257)), at)}}, []string{"ValidationException"}},
		{"INSUFFICIENT_DATA", &configservice.PutEvaluationsInput{ResultToken: aws.String("t"), Evaluations: []types.Evaluation{
			evaluation("AIDAXXXXXXXXXXXXXXXXX", types.ComplianceTypeInsufficientData, "", at)}}, []string{"ValidationException"}},
		{"no result token", &configservice.PutEvaluationsInput{ResultToken: aws.String(""), Evaluations: []types.Evaluation{
			evaluation("AIDAXXXXXXXXXXXXXXXXX", types.ComplianceTypeCompliant, "", at)}}, []string{"InvalidResultTokenException", "ValidationException"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutEvaluations(ctx, tc.in)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("PutEvaluations = %v, want one of %v", err, tc.codes)
			}
			ok := false
			for _, code := range tc.codes {
				ok = ok || apiErr.ErrorCode() == code
			}
			if !ok {
				t.Fatalf("PutEvaluations = %v, want one of %v", err, tc.codes)
			}
			if got := srv.TakeConfigEvaluations(); len(got) != 0 {
				t.Errorf("rejected request recorded %+v", got)
			}
		})
	}
}
