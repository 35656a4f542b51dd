package deadline_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/deadline"
)

// fake is an API whose calls are function fields; a nil field fails the test when called.
type fake struct {
	t      *testing.T
	create func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error)
	get    func(*scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error)
	update func(*scheduler.UpdateScheduleInput) (*scheduler.UpdateScheduleOutput, error)
	delete func(*scheduler.DeleteScheduleInput) (*scheduler.DeleteScheduleOutput, error)
	calls  []string
}

var _ deadline.API = (*fake)(nil)

func (f *fake) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	f.calls = append(f.calls, "create")
	if f.create == nil {
		f.t.Fatal("unexpected CreateSchedule")
	}
	return f.create(in)
}

func (f *fake) GetSchedule(_ context.Context, in *scheduler.GetScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	f.calls = append(f.calls, "get")
	if f.get == nil {
		f.t.Fatal("unexpected GetSchedule")
	}
	return f.get(in)
}

func (f *fake) UpdateSchedule(_ context.Context, in *scheduler.UpdateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	f.calls = append(f.calls, "update")
	if f.update == nil {
		f.t.Fatal("unexpected UpdateSchedule")
	}
	return f.update(in)
}

func (f *fake) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.calls = append(f.calls, "delete")
	if f.delete == nil {
		f.t.Fatal("unexpected DeleteSchedule")
	}
	return f.delete(in)
}

const (
	account  = "123456789012"
	userID   = "AIDAEXAMPLEEXAMPLE123"
	group    = "iamwarden"
	roleARN  = "arn:aws:iam::123456789012:role/iamwarden-scheduler"
	fnARN    = "arn:aws:lambda:us-east-1:123456789012:function:iamwarden"
	queueARN = "arn:aws:sqs:us-east-1:123456789012:iamwarden-schedules-dlq"
)

var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func schedules(api deadline.API) *deadline.Schedules {
	return &deadline.Schedules{API: api, Group: group, RoleARN: roleARN, TargetARN: fnARN,
		Now: func() time.Time { return now }}
}

// existing is what GetSchedule answers for a schedule Ensure created with expr and input.
func existing(expr, input string) *scheduler.GetScheduleOutput {
	return &scheduler.GetScheduleOutput{
		Name: aws.String(deadline.Name(account, userID)), GroupName: aws.String(group),
		ScheduleExpression: aws.String(expr), ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:    &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		ActionAfterCompletion: types.ActionAfterCompletionDelete, State: types.ScheduleStateEnabled,
		Target: &types.Target{Arn: aws.String(fnARN), RoleArn: aws.String(roleARN), Input: aws.String(input)},
	}
}

func conflict() error {
	return &types.ConflictException{Message: aws.String("Schedule already exists.")}
}

func notFound() error {
	return &types.ResourceNotFoundException{Message: aws.String("Schedule does not exist.")}
}

func TestName(t *testing.T) {
	name := deadline.Name(account, userID)
	if name != "iamwarden-123456789012-AIDAEXAMPLEEXAMPLE123" {
		t.Fatalf("Name = %q", name)
	}
	if err := deadline.CheckName(name); err != nil {
		t.Fatalf("CheckName(%q) = %v", name, err)
	}
	for _, bad := range []string{
		"",
		deadline.Name(account, strings.Repeat("A", 64)),
		deadline.Name(account, "AIDA/EXAMPLE"),
		deadline.Name(account, "AIDA EXAMPLE"),
		deadline.Name(account, "AIDAÉ"),
	} {
		if err := deadline.CheckName(bad); !errors.Is(err, deadline.ErrInvalidName) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	// The longest name: a 12-digit account and a user ID of up to 41 characters.
	if err := deadline.CheckName(deadline.Name(account, strings.Repeat("A", 41))); err != nil {
		t.Errorf("64-character name rejected: %v", err)
	}
}

func TestExpression(t *testing.T) {
	at := time.Date(2026, 12, 2, 11, 0, 0, 999_000_000, time.FixedZone("CET", 3600))
	if got := deadline.Expression(at); got != "at(2026-12-02T10:00:00)" {
		t.Fatalf("Expression = %q", got)
	}
}

func TestEnsureCreates(t *testing.T) {
	var got *scheduler.CreateScheduleInput
	f := &fake{t: t, create: func(in *scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) {
		got = in
		return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn")}, nil
	}}
	s := schedules(f)
	s.DeadLetterARN = queueARN
	name := deadline.Name(account, userID)
	at := time.Date(2026, 12, 2, 10, 0, 0, 500_000_000, time.UTC)
	res, err := s.Ensure(context.Background(), name, at, []byte(`{"iamwarden":{"kind":"deadline"}}`))
	if err != nil || res != deadline.ResultCreated {
		t.Fatalf("Ensure = %v, %v; want created", res, err)
	}
	checks := map[string][2]string{
		"Name":                       {aws.ToString(got.Name), name},
		"GroupName":                  {aws.ToString(got.GroupName), group},
		"ScheduleExpression":         {aws.ToString(got.ScheduleExpression), "at(2026-12-02T10:00:00)"},
		"ScheduleExpressionTimezone": {aws.ToString(got.ScheduleExpressionTimezone), "UTC"},
		"FlexibleTimeWindow":         {string(got.FlexibleTimeWindow.Mode), "OFF"},
		"ActionAfterCompletion":      {string(got.ActionAfterCompletion), "DELETE"},
		"State":                      {string(got.State), "ENABLED"},
		"Target.Arn":                 {aws.ToString(got.Target.Arn), fnARN},
		"Target.RoleArn":             {aws.ToString(got.Target.RoleArn), roleARN},
		"Target.Input":               {aws.ToString(got.Target.Input), `{"iamwarden":{"kind":"deadline"}}`},
		"Target.DeadLetterConfig":    {aws.ToString(got.Target.DeadLetterConfig.Arn), queueARN},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", field, c[0], c[1])
		}
	}
	if rp := got.Target.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumRetryAttempts) != deadline.RetryAttempts ||
		aws.ToInt32(rp.MaximumEventAgeInSeconds) != deadline.RetryMaxAgeSecs {
		t.Errorf("RetryPolicy = %+v", rp)
	}
}

func TestEnsureWithoutDeadLetterQueue(t *testing.T) {
	f := &fake{t: t, create: func(in *scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) {
		if in.Target.DeadLetterConfig != nil {
			t.Errorf("DeadLetterConfig = %+v, want none", in.Target.DeadLetterConfig)
		}
		return &scheduler.CreateScheduleOutput{}, nil
	}}
	if _, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), now.Add(time.Hour), []byte("{}")); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureExisting(t *testing.T) {
	const input = `{"v":1}`
	at := now.Add(48 * time.Hour)
	expr := deadline.Expression(at)
	tests := []struct {
		name    string
		have    *scheduler.GetScheduleOutput
		want    deadline.Result
		updates int
	}{
		{"same time and input", existing(expr, input), deadline.ResultUnchanged, 0},
		{"other time", existing(deadline.Expression(at.Add(time.Hour)), input), deadline.ResultUpdated, 1},
		{"other input", existing(expr, `{"v":2}`), deadline.ResultUpdated, 1},
		{"other timezone", func() *scheduler.GetScheduleOutput {
			o := existing(expr, input)
			o.ScheduleExpressionTimezone = aws.String("Europe/Paris")
			return o
		}(), deadline.ResultUpdated, 1},
		{"other target", func() *scheduler.GetScheduleOutput {
			o := existing(expr, input)
			o.Target.Arn = aws.String(fnARN + "-old")
			return o
		}(), deadline.ResultUpdated, 1},
		{"disabled", func() *scheduler.GetScheduleOutput {
			o := existing(expr, input)
			o.State = types.ScheduleStateDisabled
			return o
		}(), deadline.ResultUpdated, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var updated *scheduler.UpdateScheduleInput
			f := &fake{t: t,
				create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) { return nil, conflict() },
				get: func(in *scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error) {
					if aws.ToString(in.GroupName) != group {
						t.Errorf("GetSchedule group %q", aws.ToString(in.GroupName))
					}
					return tc.have, nil
				},
				update: func(in *scheduler.UpdateScheduleInput) (*scheduler.UpdateScheduleOutput, error) {
					updated = in
					return &scheduler.UpdateScheduleOutput{}, nil
				},
			}
			res, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), at, []byte(input))
			if err != nil || res != tc.want {
				t.Fatalf("Ensure = %v, %v; want %v (calls %v)", res, err, tc.want, f.calls)
			}
			if (updated != nil) != (tc.updates == 1) {
				t.Fatalf("calls %v", f.calls)
			}
			if updated != nil {
				if aws.ToString(updated.ScheduleExpression) != expr || aws.ToString(updated.Target.Input) != input ||
					updated.ActionAfterCompletion != types.ActionAfterCompletionDelete || updated.State != types.ScheduleStateEnabled ||
					aws.ToString(updated.ScheduleExpressionTimezone) != "UTC" || updated.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff ||
					aws.ToString(updated.Target.Arn) != fnARN || aws.ToString(updated.Target.RoleArn) != roleARN {
					t.Errorf("UpdateSchedule input %+v target %+v", updated, updated.Target)
				}
			}
		})
	}
}

func TestEnsureRecreatesWhenGoneAfterConflict(t *testing.T) {
	creates := 0
	f := &fake{t: t,
		create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) {
			creates++
			if creates == 1 {
				return nil, conflict()
			}
			return &scheduler.CreateScheduleOutput{}, nil
		},
		get: func(*scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error) { return nil, notFound() },
	}
	res, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), now.Add(time.Hour), []byte("{}"))
	if err != nil || res != deadline.ResultCreated {
		t.Fatalf("Ensure = %v, %v (calls %v)", res, err, f.calls)
	}
	if strings.Join(f.calls, ",") != "create,get,create" {
		t.Errorf("calls %v", f.calls)
	}
}

func TestEnsureGivesUpWhenItKeepsVanishing(t *testing.T) {
	f := &fake{t: t,
		create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) { return nil, conflict() },
		get:    func(*scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error) { return nil, notFound() },
	}
	if _, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), now.Add(time.Hour), []byte("{}")); err == nil {
		t.Fatal("Ensure succeeded")
	}
	if len(f.calls) != 6 {
		t.Errorf("calls %v, want 3 rounds of create,get", f.calls)
	}
}

func TestEnsurePast(t *testing.T) {
	for _, at := range []time.Time{now.Add(-time.Hour), now, now.Add(59 * time.Second), now.Add(time.Minute - time.Millisecond)} {
		f := &fake{t: t}
		res, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), at, []byte("{}"))
		if err != nil || res != deadline.ResultPast {
			t.Errorf("Ensure(%v) = %v, %v; want past", at, res, err)
		}
		if len(f.calls) != 0 {
			t.Errorf("Ensure(%v) called %v", at, f.calls)
		}
	}
	f := &fake{t: t, create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) {
		return &scheduler.CreateScheduleOutput{}, nil
	}}
	if res, err := schedules(f).Ensure(context.Background(), deadline.Name(account, userID), now.Add(time.Minute), []byte("{}")); err != nil || res != deadline.ResultCreated {
		t.Errorf("Ensure(now+1m) = %v, %v; want created", res, err)
	}
}

func TestEnsureErrors(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}
	name := deadline.Name(account, userID)
	tests := []struct {
		name   string
		f      *fake
		prefix string
	}{
		{"create denied", &fake{create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) { return nil, denied }},
			"create schedule " + name},
		{"create validation", &fake{create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) {
			return nil, &types.ValidationException{Message: aws.String("bad")}
		}}, "create schedule " + name},
		{"get denied", &fake{
			create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) { return nil, conflict() },
			get:    func(*scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error) { return nil, denied },
		}, "get schedule " + name},
		{"update denied", &fake{
			create: func(*scheduler.CreateScheduleInput) (*scheduler.CreateScheduleOutput, error) { return nil, conflict() },
			get: func(*scheduler.GetScheduleInput) (*scheduler.GetScheduleOutput, error) {
				return existing("at(2000-01-01T00:00:00)", "{}"), nil
			},
			update: func(*scheduler.UpdateScheduleInput) (*scheduler.UpdateScheduleOutput, error) { return nil, denied },
		}, "update schedule " + name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.t = t
			_, err := schedules(tc.f).Ensure(context.Background(), name, now.Add(time.Hour), []byte("{}"))
			if err == nil || !strings.HasPrefix(err.Error(), tc.prefix+": ") {
				t.Fatalf("Ensure error = %v, want it to start with %q", err, tc.prefix)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Errorf("SDK error not reachable with errors.As: %v", err)
			}
		})
	}
	t.Run("invalid name", func(t *testing.T) {
		f := &fake{t: t}
		if _, err := schedules(f).Ensure(context.Background(), "bad/name", now.Add(time.Hour), nil); !errors.Is(err, deadline.ErrInvalidName) {
			t.Fatalf("Ensure = %v, want ErrInvalidName", err)
		}
	})
}

func TestCancel(t *testing.T) {
	name := deadline.Name(account, userID)
	tests := []struct {
		name    string
		err     error
		want    bool
		wantErr bool
	}{
		{"deleted", nil, true, false},
		{"missing", notFound(), false, false},
		{"denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, false, true},
		{"throttled", &types.ThrottlingException{Message: aws.String("slow down")}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{t: t, delete: func(in *scheduler.DeleteScheduleInput) (*scheduler.DeleteScheduleOutput, error) {
				if aws.ToString(in.Name) != name || aws.ToString(in.GroupName) != group {
					t.Errorf("DeleteSchedule %s in %s", aws.ToString(in.Name), aws.ToString(in.GroupName))
				}
				return &scheduler.DeleteScheduleOutput{}, tc.err
			}}
			got, err := schedules(f).Cancel(context.Background(), name)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Cancel = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "delete schedule "+name+": ") {
				t.Errorf("error %q does not name the operation and schedule", err)
			}
		})
	}
	if _, err := schedules(&fake{t: t}).Cancel(context.Background(), ""); !errors.Is(err, deadline.ErrInvalidName) {
		t.Errorf("Cancel(\"\") = %v, want ErrInvalidName", err)
	}
}
