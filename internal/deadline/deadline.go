// Package deadline keeps one one-shot EventBridge Scheduler schedule per user deadline: when a
// user's grace period ends, the schedule invokes a target (the Lambda function) with a payload
// the caller chooses. The package knows nothing about the payload; it compares it byte for byte.
//
// A schedule is named Name(accountID, userID), "iamwarden-<account>-<userID>", lives in the
// configured group, and is created as
//
//	ScheduleExpression          at(2026-12-02T10:00:00)   (the deadline in UTC, to the second)
//	ScheduleExpressionTimezone  UTC
//	FlexibleTimeWindow          OFF
//	ActionAfterCompletion       DELETE                    (Scheduler deletes it once it has run)
//	State                       ENABLED
//	Target                      Arn, RoleArn, Input, RetryPolicy, DeadLetterConfig (when set)
//
// Ensure is idempotent: a schedule that already exists is read and updated only when it differs
// from the one wanted. A deadline less than MinLead away (or past) is not scheduled: Ensure
// answers ResultPast and the caller acts at once.
//
// moto 5.2.1, which the integration tests run against, differs from AWS here: it never runs
// schedules (so never deletes them after completion), answers ConflictException with HTTP 400
// rather than 409 (the SDK classifies it by its code either way), ignores ActionAfterCompletion
// on UpdateSchedule (it keeps the value given at creation), stores State as null when
// UpdateSchedule omits it (Ensure always sends ENABLED, as AWS needs too: UpdateSchedule
// replaces every field), ignores ClientToken, and fails with HTTP 500 instead of
// ResourceNotFoundException when CreateSchedule names a group that does not exist.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// API is the part of the EventBridge Scheduler client Schedules needs.
type API interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

var _ API = (*scheduler.Client)(nil)

// Result says what Ensure did.
type Result string

const (
	// ResultCreated: no schedule had the name; one was created.
	ResultCreated Result = "created"
	// ResultUnchanged: the schedule already existed as wanted.
	ResultUnchanged Result = "unchanged"
	// ResultUpdated: the schedule existed with another time, input or target and was updated.
	ResultUpdated Result = "updated"
	// ResultPast: the deadline is past or less than MinLead away; nothing was scheduled and the
	// caller must act now. An existing schedule of that name is left alone (Cancel removes it).
	ResultPast Result = "past"
)

// MinLead is how far ahead a deadline must be to be scheduled. Scheduler runs at() schedules
// at the minute at best; anything nearer is handled at once by the caller.
const MinLead = time.Minute

// Retry policy of the schedules' target. Scheduler invokes Lambda asynchronously, so it retries
// only when the invocation itself fails (throttling, service errors), not when the function does;
// after that the event goes to the dead-letter queue, when one is set.
const (
	RetryAttempts   = 10
	RetryMaxAgeSecs = 6 * 60 * 60
)

// MaxNameLen is Scheduler's limit on schedule names.
const MaxNameLen = 64

// namePattern is Scheduler's schedule name charset.
var namePattern = regexp.MustCompile(`^[0-9a-zA-Z\-_.]+$`)

// ErrInvalidName is a schedule name Scheduler would reject (too long or outside its charset).
var ErrInvalidName = errors.New("invalid schedule name")

// Name is the schedule name of a user's deadline: iamwarden-<accountID>-<userID>. CheckName
// says whether Scheduler accepts it (Ensure and Cancel check it before any call).
func Name(accountID, userID string) string {
	return "iamwarden-" + accountID + "-" + userID
}

// CheckName returns an error wrapping ErrInvalidName when Scheduler would reject name.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %q is %d characters, at most %d allowed", ErrInvalidName, name, len(name), MaxNameLen)
	case !namePattern.MatchString(name):
		return fmt.Errorf("%w: %q has characters other than letters, digits, '-', '_' and '.'", ErrInvalidName, name)
	}
	return nil
}

// Expression is the Scheduler expression of a one-shot schedule at t: at(YYYY-MM-DDTHH:MM:SS)
// in UTC, truncated to the second.
func Expression(t time.Time) string {
	return "at(" + t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05") + ")"
}

// Timezone is the ScheduleExpressionTimezone of every schedule.
const Timezone = "UTC"

// Log attribute keys.
const (
	logSchedule = "schedule"
	logGroup    = "group"
	logAt       = "at"
	logResult   = "result"
	logChanged  = "changed"
)

// Schedules creates, updates and deletes deadline schedules in one group.
type Schedules struct {
	API API
	// Group is the schedule group (IAMWARDEN_SCHEDULE_GROUP); it must exist.
	Group string
	// RoleARN is the role Scheduler assumes to invoke the target (IAMWARDEN_SCHEDULER_ROLE_ARN).
	RoleARN string
	// TargetARN is what the schedules invoke: the function's ARN.
	TargetARN string
	// DeadLetterARN is an SQS queue for invocations that fail for good; empty: none.
	DeadLetterARN string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Log receives a record per change; nil discards them.
	Log *slog.Logger
}

func (s *Schedules) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Schedules) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// target is the schedule's target as wanted.
func (s *Schedules) target(input []byte) *types.Target {
	t := &types.Target{
		Arn:     aws.String(s.TargetARN),
		RoleArn: aws.String(s.RoleARN),
		Input:   aws.String(string(input)),
		RetryPolicy: &types.RetryPolicy{
			MaximumRetryAttempts:     aws.Int32(RetryAttempts),
			MaximumEventAgeInSeconds: aws.Int32(RetryMaxAgeSecs),
		},
	}
	if s.DeadLetterARN != "" {
		t.DeadLetterConfig = &types.DeadLetterConfig{Arn: aws.String(s.DeadLetterARN)}
	}
	return t
}

// maxAttempts bounds Ensure's create/read/update rounds when the schedule appears or vanishes
// between calls (created concurrently, or run and deleted by Scheduler).
const maxAttempts = 3

// Ensure makes the schedule name fire at at with input as its target's Input. It creates the
// schedule, or, when one of that name exists (ConflictException), reads it and updates it only
// if its time, input or target differ. A deadline less than MinLead after Now is not scheduled:
// Ensure answers ResultPast without calling Scheduler.
func (s *Schedules) Ensure(ctx context.Context, name string, at time.Time, input []byte) (Result, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	at = at.UTC().Truncate(time.Second)
	if at.Sub(s.now()) < MinLead {
		s.log().Debug("deadline too near to schedule", logSchedule, name, logAt, at)
		return ResultPast, nil
	}
	expr := Expression(at)
	for range maxAttempts {
		_, err := s.API.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name:                       aws.String(name),
			GroupName:                  aws.String(s.Group),
			ScheduleExpression:         aws.String(expr),
			ScheduleExpressionTimezone: aws.String(Timezone),
			FlexibleTimeWindow:         &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
			ActionAfterCompletion:      types.ActionAfterCompletionDelete,
			State:                      types.ScheduleStateEnabled,
			Target:                     s.target(input),
		})
		if err == nil {
			s.log().Info("deadline scheduled", logSchedule, name, logGroup, s.Group, logAt, at, logResult, string(ResultCreated))
			return ResultCreated, nil
		}
		var conflict *types.ConflictException
		if !errors.As(err, &conflict) {
			return "", fmt.Errorf("create schedule %s: %w", name, err)
		}

		got, err := s.API.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(s.Group)})
		if isNotFound(err) {
			continue // run and deleted since the conflict: create it again
		}
		if err != nil {
			return "", fmt.Errorf("get schedule %s: %w", name, err)
		}
		changed := s.differences(got, expr, input)
		if len(changed) == 0 {
			s.log().Debug("deadline already scheduled", logSchedule, name, logAt, at, logResult, string(ResultUnchanged))
			return ResultUnchanged, nil
		}

		_, err = s.API.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{
			Name:                       aws.String(name),
			GroupName:                  aws.String(s.Group),
			ScheduleExpression:         aws.String(expr),
			ScheduleExpressionTimezone: aws.String(Timezone),
			FlexibleTimeWindow:         &types.FlexibleTimeWindow{Mode: types.FlexibleTimeWindowModeOff},
			ActionAfterCompletion:      types.ActionAfterCompletionDelete,
			State:                      types.ScheduleStateEnabled,
			Target:                     s.target(input),
		})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("update schedule %s: %w", name, err)
		}
		s.log().Info("deadline rescheduled", logSchedule, name, logGroup, s.Group, logAt, at, logResult, string(ResultUpdated), logChanged, changed)
		return ResultUpdated, nil
	}
	return "", fmt.Errorf("ensure schedule %s: it kept appearing and disappearing over %d attempts", name, maxAttempts)
}

// differences names what of the existing schedule got differs from the one wanted.
func (s *Schedules) differences(got *scheduler.GetScheduleOutput, expr string, input []byte) []string {
	var d []string
	if aws.ToString(got.ScheduleExpression) != expr || aws.ToString(got.ScheduleExpressionTimezone) != Timezone {
		d = append(d, "time")
	}
	t := got.Target
	if t == nil {
		t = &types.Target{}
	}
	if aws.ToString(t.Input) != string(input) {
		d = append(d, "input")
	}
	dlq := ""
	if t.DeadLetterConfig != nil {
		dlq = aws.ToString(t.DeadLetterConfig.Arn)
	}
	if aws.ToString(t.Arn) != s.TargetARN || aws.ToString(t.RoleArn) != s.RoleARN || dlq != s.DeadLetterARN {
		d = append(d, "target")
	}
	if got.State != types.ScheduleStateEnabled || got.ActionAfterCompletion != types.ActionAfterCompletionDelete ||
		got.FlexibleTimeWindow == nil || got.FlexibleTimeWindow.Mode != types.FlexibleTimeWindowModeOff {
		d = append(d, "settings")
	}
	return d
}

// Cancel deletes the schedule name. It reports whether there was one: a schedule already gone
// (never created, cancelled before, or run and deleted by Scheduler) is not an error. Scheduler
// answers a missing group with the same ResourceNotFoundException, so that too reads as false;
// Ensure, which needs the group, reports it.
func (s *Schedules) Cancel(ctx context.Context, name string) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	_, err := s.API.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(s.Group)})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete schedule %s: %w", name, err)
	}
	s.log().Info("deadline schedule cancelled", logSchedule, name, logGroup, s.Group)
	return true, nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
