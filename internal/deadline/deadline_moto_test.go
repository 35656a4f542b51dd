package deadline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/iamwarden/iamwarden/internal/deadline"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

// motoSchedules returns Schedules on a fresh moto account with its group created (Scheduler
// requires the group to exist, on AWS as in moto), and the client to inspect them. Its clock is
// the system's, and the deadlines below are in the future, so the tests hold on AWS too.
func motoSchedules(t *testing.T) (*deadline.Schedules, *scheduler.Client) {
	t.Helper()
	srv := mototest.Shared(t)
	ctx := context.Background()
	c := scheduler.NewFromConfig(srv.Config(ctx))
	if _, err := c.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(group)}); err != nil {
		t.Fatalf("CreateScheduleGroup: %v", err)
	}
	s := &deadline.Schedules{
		API:           c,
		Group:         group,
		RoleARN:       fmt.Sprintf("arn:aws:iam::%s:role/iamwarden-scheduler", srv.AccountID),
		TargetARN:     fmt.Sprintf("arn:aws:lambda:us-east-1:%s:function:iamwarden", srv.AccountID),
		DeadLetterARN: fmt.Sprintf("arn:aws:sqs:us-east-1:%s:iamwarden-schedules-dlq", srv.AccountID),
	}
	return s, c
}

func payload(at time.Time) []byte {
	return fmt.Appendf(nil, `{"iamwarden":{"kind":"deadline","account_id":%q,"user_name":"alice","user_id":%q,"deadline":%q}}`,
		account, userID, at.UTC().Format(time.RFC3339))
}

func getSchedule(t *testing.T, c *scheduler.Client, name string) *scheduler.GetScheduleOutput {
	t.Helper()
	out, err := c.GetSchedule(context.Background(), &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(group)})
	if err != nil {
		t.Fatalf("GetSchedule(%s): %v", name, err)
	}
	return out
}

func TestMotoEnsureAndCancel(t *testing.T) {
	s, c := motoSchedules(t)
	ctx := context.Background()
	name := deadline.Name(account, userID)
	at := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)

	ensure := func(at time.Time, want deadline.Result) {
		t.Helper()
		res, err := s.Ensure(ctx, name, at.Add(300*time.Millisecond), payload(at))
		if err != nil || res != want {
			t.Fatalf("Ensure(%v) = %v, %v; want %v", at, res, err, want)
		}
	}
	check := func(at time.Time) {
		t.Helper()
		got := getSchedule(t, c, name)
		if e := aws.ToString(got.ScheduleExpression); e != deadline.Expression(at) {
			t.Errorf("ScheduleExpression = %q, want %q", e, deadline.Expression(at))
		}
		if tz := aws.ToString(got.ScheduleExpressionTimezone); tz != "UTC" {
			t.Errorf("ScheduleExpressionTimezone = %q", tz)
		}
		if got.FlexibleTimeWindow == nil || got.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff {
			t.Errorf("FlexibleTimeWindow = %+v", got.FlexibleTimeWindow)
		}
		if got.ActionAfterCompletion != types.ActionAfterCompletionDelete {
			t.Errorf("ActionAfterCompletion = %q", got.ActionAfterCompletion)
		}
		if got.State != types.ScheduleStateEnabled {
			t.Errorf("State = %q", got.State)
		}
		tg := got.Target
		if tg == nil {
			t.Fatal("no target")
		}
		if aws.ToString(tg.Arn) != s.TargetARN || aws.ToString(tg.RoleArn) != s.RoleARN || aws.ToString(tg.Input) != string(payload(at)) {
			t.Errorf("target %s role %s input %s", aws.ToString(tg.Arn), aws.ToString(tg.RoleArn), aws.ToString(tg.Input))
		}
		if tg.DeadLetterConfig == nil || aws.ToString(tg.DeadLetterConfig.Arn) != s.DeadLetterARN {
			t.Errorf("DeadLetterConfig = %+v", tg.DeadLetterConfig)
		}
		if rp := tg.RetryPolicy; rp == nil || aws.ToInt32(rp.MaximumRetryAttempts) != deadline.RetryAttempts {
			t.Errorf("RetryPolicy = %+v", rp)
		}
	}

	t.Run("create", func(t *testing.T) {
		ensure(at, deadline.ResultCreated)
		check(at)
	})
	t.Run("duplicate reuses the schedule", func(t *testing.T) {
		before := getSchedule(t, c, name)
		ensure(at, deadline.ResultUnchanged)
		after := getSchedule(t, c, name)
		if !aws.ToTime(after.LastModificationDate).Equal(aws.ToTime(before.LastModificationDate)) {
			t.Errorf("schedule modified: %v -> %v", before.LastModificationDate, after.LastModificationDate)
		}
		check(at)
	})
	t.Run("changed deadline updates it", func(t *testing.T) {
		later := at.Add(36 * time.Hour)
		ensure(later, deadline.ResultUpdated)
		check(later)
		ensure(later, deadline.ResultUnchanged)
	})
	t.Run("past deadline is not scheduled", func(t *testing.T) {
		other := deadline.Name(account, "AIDAPASTPASTPASTPAST1")
		res, err := s.Ensure(ctx, other, time.Now().Add(30*time.Second), []byte("{}"))
		if err != nil || res != deadline.ResultPast {
			t.Fatalf("Ensure = %v, %v; want past", res, err)
		}
		_, err = c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(other), GroupName: aws.String(group)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("GetSchedule of a past deadline = %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		if ok, err := s.Cancel(ctx, name); err != nil || !ok {
			t.Fatalf("Cancel = %v, %v; want true", ok, err)
		}
		_, err := c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(group)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("GetSchedule after Cancel = %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("cancel of a missing schedule", func(t *testing.T) {
		if ok, err := s.Cancel(ctx, name); err != nil || ok {
			t.Fatalf("Cancel = %v, %v; want false, nil", ok, err)
		}
	})
	t.Run("create again after cancel", func(t *testing.T) {
		ensure(at, deadline.ResultCreated)
		check(at)
	})
}

// A schedule created by hand (another tool, an older version) with the same name is taken over.
func TestMotoEnsureTakesOverForeignSchedule(t *testing.T) {
	s, c := motoSchedules(t)
	ctx := context.Background()
	name := deadline.Name(account, userID)
	_, err := c.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(name), GroupName: aws.String(group),
		ScheduleExpression: aws.String("at(2030-01-01T00:00:00)"), ScheduleExpressionTimezone: aws.String("Europe/Paris"),
		FlexibleTimeWindow:    &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
		ActionAfterCompletion: types.ActionAfterCompletionDelete,
		Target:                &types.Target{Arn: aws.String(s.TargetARN + "-old"), RoleArn: aws.String(s.RoleARN), Input: aws.String("{}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second)
	if res, err := s.Ensure(ctx, name, at, payload(at)); err != nil || res != deadline.ResultUpdated {
		t.Fatalf("Ensure = %v, %v; want updated", res, err)
	}
	got := getSchedule(t, c, name)
	if aws.ToString(got.ScheduleExpression) != deadline.Expression(at) || aws.ToString(got.ScheduleExpressionTimezone) != "UTC" ||
		aws.ToString(got.Target.Arn) != s.TargetARN || aws.ToString(got.Target.Input) != string(payload(at)) {
		t.Errorf("schedule after Ensure: %s %s target %s input %s", aws.ToString(got.ScheduleExpression),
			aws.ToString(got.ScheduleExpressionTimezone), aws.ToString(got.Target.Arn), aws.ToString(got.Target.Input))
	}
}
