package lambdafn_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/lambdafn"
)

const (
	account  = "123456789012"
	aliceID  = "AIDAZ3EXAMPLEALICE001"
	aliceMFA = "arn:aws:iam::123456789012:mfa/alice-phone"
	aliceARN = "arn:aws:iam::123456789012:user/alice"
	bobKey   = "AKIAZ3EXAMPLEBOBKEY1"
	adminARN = "arn:aws:sts::123456789012:assumed-role/Admin/carol"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cloudTrail is the CloudTrailEvent every fixture shares, with the fields of its file set.
func cloudTrail(fixture map[string]any) *lambdafn.CloudTrailEvent {
	detail := fixture["detail"].(map[string]any)
	ident := detail["userIdentity"].(map[string]any)
	return &lambdafn.CloudTrailEvent{
		ID:                 fixture["id"].(string),
		EventID:            detail["eventID"].(string),
		RequestID:          detail["requestID"].(string),
		Account:            account,
		RecipientAccountID: account,
		Region:             "us-east-1",
		CallerARN:          ident["arn"].(string),
		CallerType:         ident["type"].(string),
	}
}

func TestClassifyFixtures(t *testing.T) {
	type cloudTrailWant struct {
		name, time, user, userID, serial, key, keyStatus, errorCode string
		tagKeys                                                     []string
		caller                                                      string
		subscribed                                                  bool
	}
	ct := func(w cloudTrailWant) cloudTrailWant { w.subscribed = true; return w }
	cloudTrails := map[string]cloudTrailWant{
		"cloudtrail-CreateUser.json": ct(cloudTrailWant{name: "CreateUser", time: "2026-12-01T10:00:00Z",
			user: "alice", userID: aliceID, tagKeys: []string{"team"}, caller: adminARN}),
		"cloudtrail-CreateLoginProfile.json": ct(cloudTrailWant{name: "CreateLoginProfile",
			time: "2026-12-01T10:02:11Z", user: "alice", caller: adminARN}),
		"cloudtrail-UpdateLoginProfile.json": ct(cloudTrailWant{name: "UpdateLoginProfile",
			time: "2026-12-01T11:15:42Z", user: "alice", caller: adminARN}),
		"cloudtrail-DeleteLoginProfile.json": ct(cloudTrailWant{name: "DeleteLoginProfile",
			time: "2026-12-03T08:20:05Z", user: "bob", caller: adminARN}),
		"cloudtrail-EnableMFADevice.json": ct(cloudTrailWant{name: "EnableMFADevice",
			time: "2026-12-01T10:06:37Z", user: "alice", userID: aliceID, serial: aliceMFA,
			caller: aliceARN}),
		"cloudtrail-DeactivateMFADevice.json": ct(cloudTrailWant{name: "DeactivateMFADevice",
			time: "2026-12-04T14:40:00Z", user: "alice", serial: aliceMFA, caller: adminARN}),
		// Only the serial number: the user is left to the preceding DeactivateMFADevice.
		"cloudtrail-DeleteVirtualMFADevice.json": ct(cloudTrailWant{name: "DeleteVirtualMFADevice",
			time: "2026-12-04T14:40:03Z", serial: aliceMFA, caller: adminARN}),
		"cloudtrail-ResyncMFADevice.json": ct(cloudTrailWant{name: "ResyncMFADevice",
			time: "2026-12-02T09:12:30Z", user: "alice", userID: aliceID, serial: aliceMFA,
			caller: aliceARN}),
		"cloudtrail-CreateAccessKey.json": ct(cloudTrailWant{name: "CreateAccessKey",
			time: "2026-12-01T12:00:00Z", user: "bob", key: bobKey, keyStatus: "Active",
			caller: adminARN}),
		"cloudtrail-UpdateAccessKey.json": ct(cloudTrailWant{name: "UpdateAccessKey",
			time: "2026-12-02T16:30:00Z", user: "bob", key: bobKey, keyStatus: "Inactive",
			caller: adminARN}),
		"cloudtrail-DeleteAccessKey.json": ct(cloudTrailWant{name: "DeleteAccessKey",
			time: "2026-12-02T16:45:00Z", user: "bob", key: bobKey, caller: adminARN}),
		"cloudtrail-TagUser.json": ct(cloudTrailWant{name: "TagUser", time: "2026-12-01T10:30:00Z",
			user: "alice", tagKeys: []string{"iamwarden:exempt-reason", "iamwarden:exempt-until"},
			caller: adminARN}),
		"cloudtrail-UntagUser.json": ct(cloudTrailWant{name: "UntagUser", time: "2026-12-05T10:30:00Z",
			user: "alice", tagKeys: []string{"iamwarden:exempt-reason", "iamwarden:exempt-until"},
			caller: adminARN}),
		"cloudtrail-DeleteUser.json": ct(cloudTrailWant{name: "DeleteUser", time: "2026-12-06T17:00:00Z",
			user: "bob", caller: adminARN}),
		"cloudtrail-CreateAccessKey-failed.json": ct(cloudTrailWant{name: "CreateAccessKey",
			time: "2026-12-01T13:05:00Z", user: "alice", errorCode: "AccessDenied",
			caller: "arn:aws:iam::123456789012:user/dave"}),
		// No userName: the new key's userName in the response names the caller.
		"cloudtrail-CreateAccessKey-self.json": ct(cloudTrailWant{name: "CreateAccessKey",
			time: "2026-12-02T08:00:00Z", user: "alice", userID: aliceID,
			key: "AKIAZ3EXAMPLEALICE02", keyStatus: "Active", caller: aliceARN}),
		// No userName and no response: the call defaults to the calling IAM user.
		"cloudtrail-DeleteAccessKey-self.json": ct(cloudTrailWant{name: "DeleteAccessKey",
			time: "2026-12-02T08:10:00Z", user: "alice", userID: aliceID,
			key: "AKIAZ3EXAMPLEALICE01", caller: aliceARN}),
		"cloudtrail-AttachUserPolicy-unsubscribed.json": {name: "AttachUserPolicy",
			time: "2026-12-01T10:45:00Z", user: "alice", caller: adminARN},
	}
	others := map[string]func(t *testing.T) lambdafn.Event{
		"eventbridge-scheduled-event.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindSweep, Sweep: &lambdafn.Sweep{
				Source:  lambdafn.SweepSourceEventBridge,
				Time:    at(t, "2026-12-02T06:00:00Z"),
				RuleARN: "arn:aws:events:us-east-1:123456789012:rule/iamwarden-sweep",
			}}
		},
		"sqs-account-work.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindSQS, SQS: &lambdafn.SQSBatch{Records: []lambdafn.SQSRecord{
				{MessageID: "5f3c6d1e-8a2b-4c9d-9e0f-1a2b3c4d5e6f", ReceiveCount: 1,
					Body: []byte(`{"iamwarden":{"kind":"account","account_id":"210987654321","sweep_id":"01M8SWEEP0000000000000000"}}`)},
				{MessageID: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", ReceiveCount: 3,
					Body: []byte(`{"iamwarden":{"kind":"account","account_id":"123456789012","sweep_id":"01M8SWEEP0000000000000000"}}`)},
			}}}
		},
		"scheduler-sweep.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindSweep,
				Sweep: &lambdafn.Sweep{Source: lambdafn.SweepSourceScheduler}}
		},
		"scheduler-deadline.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindDeadline, Deadline: &lambdafn.DeadlineInvocation{
				AccountID: account, UserName: "alice", UserID: aliceID,
				Deadline: at(t, "2026-12-02T10:00:00Z"),
			}}
		},
		"config-scheduled-notification.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindConfigRule, ConfigRule: &lambdafn.ConfigRuleInvocation{
				ResultToken:      "eyJlbmNyeXB0ZWREYXRhIjpbMTIsLTU2LDk5XSwibWF0ZXJpYWxTZXRTZXJpYWxOdW1iZXIiOjF9",
				RuleName:         "iamwarden-users",
				RuleARN:          "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-a1b2c3",
				RuleID:           "config-rule-a1b2c3",
				AccountID:        account,
				MessageType:      lambdafn.MessageScheduledNotification,
				NotificationTime: at(t, "2026-12-02T06:00:12.345Z"),
				ExecutionRoleARN: "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
				RuleParameters:   `{"mode":"report"}`,
				Version:          "1.0",
			}}
		},
		"config-item-change-notification.json": func(t *testing.T) lambdafn.Event {
			return lambdafn.Event{Kind: lambdafn.KindConfigRule, ConfigRule: &lambdafn.ConfigRuleInvocation{
				ResultToken:      "eyJlbmNyeXB0ZWREYXRhIjpbNDIsLTcsMTNdLCJtYXRlcmlhbFNldFNlcmlhbE51bWJlciI6MX0=",
				RuleName:         "iamwarden-users-change",
				RuleARN:          "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-a1b2c3",
				RuleID:           "config-rule-a1b2c3",
				AccountID:        account,
				MessageType:      lambdafn.MessageConfigurationItemChangeNotification,
				NotificationTime: at(t, "2026-12-01T10:05:02.118Z"),
				ExecutionRoleARN: "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
				RuleParameters:   "{}",
				Version:          "1.0",
				ResourceType:     "AWS::IAM::User",
				ResourceID:       aliceID,
				ResourceName:     "alice",
				ItemStatus:       "ResourceDiscovered",
			}}
		},
		"eventbridge-iam-service-event.json": unknown(
			`EventBridge event of source "aws.iam" and detail-type "AWS Service Event via CloudTrail"`),
		"unknown-eventbridge-ec2.json": unknown(
			`EventBridge event of source "aws.ec2" and detail-type "EC2 Instance State-change Notification"`),
		"unknown-s3-event.json":       unknown(`1 record(s) of eventSource "aws:s3"`),
		"unknown-empty-object.json":   unknown("an empty JSON object"),
		"unknown-iamwarden-kind.json": unknown(`iamwarden payload of kind "rotate"`),
	}

	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cloudTrails)+len(others) {
		t.Errorf("%d fixtures, %d expectations: every fixture needs one", len(files),
			len(cloudTrails)+len(others))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want lambdafn.Event
			if w, ok := cloudTrails[name]; ok {
				var fixture map[string]any
				if err := json.Unmarshal(raw, &fixture); err != nil {
					t.Fatal(err)
				}
				e := cloudTrail(fixture)
				e.EventName, e.EventTime, e.UserName, e.UserID = w.name, at(t, w.time), w.user, w.userID
				e.SerialNumber, e.AccessKeyID, e.AccessKeyStatus = w.serial, w.key, w.keyStatus
				e.TagKeys, e.CallerARN = w.tagKeys, w.caller
				if w.errorCode != "" {
					e.ErrorCode = w.errorCode
					e.ErrorMessage = fixture["detail"].(map[string]any)["errorMessage"].(string)
				}
				want = lambdafn.Event{Kind: lambdafn.KindCloudTrail, CloudTrail: e}
			} else if f, ok := others[name]; ok {
				want = f(t)
			} else {
				t.Fatalf("no expectation for fixture %s", name)
			}

			got, err := lambdafn.Classify(raw)
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Classify:\n got %s\nwant %s", dump(got), dump(want))
			}
			if w, ok := cloudTrails[name]; ok && got.CloudTrail != nil {
				if got.CloudTrail.Subscribed() != w.subscribed {
					t.Errorf("Subscribed() = %v, want %v", !w.subscribed, w.subscribed)
				}
				if got.CloudTrail.Failed() != (w.errorCode != "") {
					t.Errorf("Failed() = %v, want %v", !(w.errorCode != ""), w.errorCode != "")
				}
			}
		})
	}
}

func unknown(why string) func(*testing.T) lambdafn.Event {
	return func(*testing.T) lambdafn.Event { return lambdafn.Event{Kind: lambdafn.KindUnknown, Why: why} }
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestClassifyMalformed(t *testing.T) {
	cases := map[string]string{
		"array.json":                          "not a JSON object",
		"null.json":                           "not a JSON object",
		"string.json":                         "not a JSON object",
		"truncated.json":                      "not a JSON object",
		"iamwarden-not-object.json":           "iamwarden: not a JSON object",
		"iamwarden-without-kind.json":         "iamwarden: kind is missing",
		"deadline-without-account-id.json":    "deadline invocation: account_id is missing",
		"deadline-without-user-name.json":     "deadline invocation: user_name is missing",
		"deadline-without-user-id.json":       "deadline invocation: user_id is missing",
		"deadline-without-deadline.json":      "deadline invocation: deadline is missing",
		"deadline-unparsable-deadline.json":   `deadline invocation: deadline "2026-12-02 10:00" is not an RFC 3339 time`,
		"deadline-account-id-number.json":     "account_id",
		"cloudtrail-without-detail.json":      "detail is not a JSON object",
		"cloudtrail-without-event-name.json":  "detail.eventName is missing",
		"eventbridge-bad-time.json":           "EventBridge event",
		"config-invoking-event-not-json.json": "invokingEvent is not a JSON object",
		"config-without-message-type.json":    "invokingEvent.messageType is missing",
		"config-empty-result-token.json":      "resultToken is missing",
	}
	files, err := filepath.Glob(filepath.Join("testdata", "events", "invalid", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("%d invalid fixtures, %d cases: every fixture needs one", len(files), len(cases))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, ok := cases[name]
			if !ok {
				t.Fatalf("no case for fixture %s", name)
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := lambdafn.Classify(raw)
			if err == nil {
				t.Fatalf("Classify = %s, want an error", dump(ev))
			}
			if !errors.Is(err, lambdafn.ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

func TestDeadlinePayload(t *testing.T) {
	d := lambdafn.DeadlineInvocation{
		AccountID: account, UserName: "alice", UserID: aliceID,
		Deadline: time.Date(2026, 12, 2, 11, 0, 0, 750_000_000, time.FixedZone("CET", 3600)),
	}
	got, err := d.Payload()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"iamwarden":{"kind":"deadline","account_id":"123456789012","user_name":"alice","user_id":"AIDAZ3EXAMPLEALICE001","deadline":"2026-12-02T10:00:00Z"}}`
	if string(got) != want {
		t.Errorf("Payload:\n got %s\nwant %s", got, want)
	}

	ev, err := lambdafn.Classify(got)
	if err != nil {
		t.Fatal(err)
	}
	d.Deadline = d.Deadline.Truncate(time.Second).UTC()
	if ev.Kind != lambdafn.KindDeadline || !reflect.DeepEqual(*ev.Deadline, d) {
		t.Errorf("Classify(Payload()) = %s, want %s", dump(ev), dump(d))
	}

	fixture, err := os.ReadFile(filepath.Join("testdata", "events", "scheduler-deadline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(fixture, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Payload %s differs from the fixture %s", got, fixture)
	}
}

func TestDeadlinePayloadInvalid(t *testing.T) {
	valid := lambdafn.DeadlineInvocation{AccountID: account, UserName: "alice", UserID: aliceID,
		Deadline: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	cases := []struct {
		field  string
		mutate func(*lambdafn.DeadlineInvocation)
	}{
		{"account_id", func(d *lambdafn.DeadlineInvocation) { d.AccountID = "" }},
		{"user_name", func(d *lambdafn.DeadlineInvocation) { d.UserName = "" }},
		{"user_id", func(d *lambdafn.DeadlineInvocation) { d.UserID = "" }},
		{"deadline", func(d *lambdafn.DeadlineInvocation) { d.Deadline = time.Time{} }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			d := valid
			c.mutate(&d)
			_, err := d.Payload()
			if !errors.Is(err, lambdafn.ErrMalformed) || !strings.Contains(err.Error(), c.field+" is missing") {
				t.Errorf("Payload error = %v, want one saying %s is missing", err, c.field)
			}
		})
	}
}

func TestSweepPayload(t *testing.T) {
	ev, err := lambdafn.Classify(lambdafn.SweepPayload())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != lambdafn.KindSweep || ev.Sweep.Source != lambdafn.SweepSourceScheduler {
		t.Errorf("Classify(SweepPayload()) = %s", dump(ev))
	}
}

func TestIAMEventNames(t *testing.T) {
	names := lambdafn.IAMEventNames()
	if len(names) != 14 {
		t.Fatalf("%d event names, want 14", len(names))
	}
	for _, n := range names {
		file := filepath.Join("testdata", "events", "cloudtrail-"+n+".json")
		if _, err := os.Stat(file); err != nil {
			t.Errorf("no fixture for %s: %v", n, err)
		}
	}
	names[0] = "changed"
	if slices.Contains(lambdafn.IAMEventNames(), "changed") {
		t.Error("IAMEventNames returns its own slice")
	}
}

func TestAccountWorkRoundTrip(t *testing.T) {
	w := lambdafn.AccountWork{AccountID: "210987654321", SweepID: "sweep-1"}
	b, err := w.Payload()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := lambdafn.Classify(b)
	if err != nil || ev.Kind != lambdafn.KindAccount || *ev.Account != w {
		t.Fatalf("Classify(%s) = %+v, %v; want %+v", b, ev, err, w)
	}
	for _, bad := range []string{"", "12345", "21098765432x"} {
		if _, err := (lambdafn.AccountWork{AccountID: bad}).Payload(); !errors.Is(err, lambdafn.ErrMalformed) {
			t.Errorf("account %q: %v, want ErrMalformed", bad, err)
		}
		raw := `{"iamwarden":{"kind":"account","account_id":"` + bad + `"}}`
		if _, err := lambdafn.Classify([]byte(raw)); !errors.Is(err, lambdafn.ErrMalformed) {
			t.Errorf("Classify(%s): %v, want ErrMalformed", raw, err)
		}
	}
}
