package configrule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/configrule"
)

// fakeConfig is a PutAPI whose answer is a function field; it records every call's input.
type fakeConfig struct {
	put   func(n int, in *configservice.PutEvaluationsInput) (*configservice.PutEvaluationsOutput, error)
	calls []*configservice.PutEvaluationsInput
}

var _ configrule.PutAPI = (*fakeConfig)(nil)

func (f *fakeConfig) PutEvaluations(_ context.Context, in *configservice.PutEvaluationsInput, _ ...func(*configservice.Options)) (*configservice.PutEvaluationsOutput, error) {
	f.calls = append(f.calls, in)
	if f.put == nil {
		return &configservice.PutEvaluationsOutput{}, nil
	}
	return f.put(len(f.calls), in)
}

func manyEvaluations(n int) []types.Evaluation {
	users := make([]configrule.User, n)
	for i := range users {
		users[i] = configrule.User{Name: fmt.Sprintf("user-%03d", i), UserID: fmt.Sprintf("AIDAUSER%013d", i)}
	}
	evs, _ := configrule.Evaluations(users, notified)
	return evs
}

func TestPutBatches(t *testing.T) {
	evs := manyEvaluations(250)
	f := &fakeConfig{}
	rep, err := configrule.Put(context.Background(), f, "token", evs)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	next := 0
	for _, c := range f.calls {
		sizes = append(sizes, len(c.Evaluations))
		if aws.ToString(c.ResultToken) != "token" || c.TestMode {
			t.Errorf("call token %q test mode %v", aws.ToString(c.ResultToken), c.TestMode)
		}
		for _, ev := range c.Evaluations {
			if aws.ToString(ev.ComplianceResourceId) != aws.ToString(evs[next].ComplianceResourceId) {
				t.Fatalf("evaluation %d sent out of order", next)
			}
			next++
		}
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batch sizes %v, want [100 100 50]", sizes)
	}
	if rep.Sent != 250 || rep.Calls != 3 || len(rep.Failed) != 0 || rep.Recorded() != 250 || rep.TestMode {
		t.Errorf("report %+v", rep)
	}
}

func TestPutExactBatches(t *testing.T) {
	for _, n := range []int{0, 1, 100, 101, 200} {
		f := &fakeConfig{}
		rep, err := configrule.Put(context.Background(), f, "token", manyEvaluations(n))
		if err != nil {
			t.Fatal(err)
		}
		if want := (n + 99) / 100; len(f.calls) != want || rep.Calls != want || rep.Sent != n {
			t.Errorf("%d evaluations: %d calls, report %+v; want %d calls", n, len(f.calls), rep, want)
		}
	}
}

func TestPutFailedEvaluations(t *testing.T) {
	evs := manyEvaluations(150)
	f := &fakeConfig{put: func(n int, in *configservice.PutEvaluationsInput) (*configservice.PutEvaluationsOutput, error) {
		if n == 2 {
			return &configservice.PutEvaluationsOutput{FailedEvaluations: in.Evaluations[:2]}, nil
		}
		return &configservice.PutEvaluationsOutput{}, nil
	}}
	rep, err := configrule.Put(context.Background(), f, "token", evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 2 || aws.ToString(rep.Failed[0].ComplianceResourceId) != aws.ToString(evs[100].ComplianceResourceId) ||
		aws.ToString(rep.Failed[1].ComplianceResourceId) != aws.ToString(evs[101].ComplianceResourceId) {
		t.Errorf("Failed = %+v", rep.Failed)
	}
	if rep.Sent != 150 || rep.Recorded() != 148 {
		t.Errorf("report %+v", rep)
	}
}

func TestPutStopsAtAFailedCall(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform config:PutEvaluations"}
	f := &fakeConfig{put: func(n int, _ *configservice.PutEvaluationsInput) (*configservice.PutEvaluationsOutput, error) {
		if n == 2 {
			return nil, denied
		}
		return &configservice.PutEvaluationsOutput{}, nil
	}}
	rep, err := configrule.Put(context.Background(), f, "token", manyEvaluations(250))
	if err == nil {
		t.Fatal("Put succeeded")
	}
	if !errors.Is(err, denied) {
		t.Errorf("error %v does not wrap the SDK error", err)
	}
	if !strings.Contains(err.Error(), "call 2 of 3") || !strings.Contains(err.Error(), "after 100 of 250 evaluations were sent") {
		t.Errorf("error %q does not say how far it got", err)
	}
	if len(f.calls) != 2 || rep.Sent != 100 || rep.Calls != 1 {
		t.Errorf("%d calls, report %+v", len(f.calls), rep)
	}
}

func TestPutTestModeAndToken(t *testing.T) {
	f := &fakeConfig{}
	rep, err := configrule.Put(context.Background(), f, "TESTMODE", manyEvaluations(3), configrule.TestMode())
	if err != nil || !rep.TestMode || len(f.calls) != 1 || !f.calls[0].TestMode {
		t.Fatalf("Put(TestMode) = %+v, %v; calls %+v", rep, err, f.calls)
	}
	if _, err := configrule.Put(context.Background(), f, "", manyEvaluations(3)); !errors.Is(err, configrule.ErrNoResultToken) {
		t.Errorf("Put without token = %v, want ErrNoResultToken", err)
	}
	if len(f.calls) != 1 {
		t.Errorf("Put without token called PutEvaluations")
	}
}
