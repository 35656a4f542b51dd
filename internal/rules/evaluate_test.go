package rules_test

import (
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

type fixedExempter struct{ ex rules.Exemption }

func (f fixedExempter) Exemption(*inventory.User, string, time.Time) (rules.Exemption, bool) {
	return f.ex, true
}

func TestEvaluate(t *testing.T) {
	asOf := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	env := rules.Env{AsOf: asOf, Thresholds: rules.DefaultThresholds()}
	u := &inventory.User{Name: "bot", ARN: "arn:aws:iam::1:user/bot", Created: asOf.AddDate(-1, 0, 0)}
	all := rules.Registry()

	fs := rules.Evaluate(env, "1", u, all, nil)
	if len(fs) != 1 || fs[0].Rule != "user-mfa-missing" || fs[0].ID != "1/user-mfa-missing/bot" || fs[0].State != rules.StateViolation {
		t.Fatalf("findings %+v", fs)
	}

	// A user created after the instant judged did not exist then.
	young := *u
	young.Created = asOf.Add(time.Hour)
	if fs := rules.Evaluate(env, "1", &young, all, nil); len(fs) != 0 {
		t.Errorf("judged a user that did not exist yet: %+v", fs)
	}

	until := asOf.AddDate(0, 1, 0)
	fs = rules.Evaluate(env, "1", u, all, fixedExempter{rules.Exemption{Reason: "bot", Source: "config", Until: &until}})
	if fs[0].State != rules.StateExempt || fs[0].Exemption.Reason != "bot" {
		t.Errorf("exemption not applied: %+v", fs[0])
	}
	past := asOf.AddDate(0, -1, 0)
	fs = rules.Evaluate(env, "1", u, all, fixedExempter{rules.Exemption{Reason: "bot", Source: "config", Until: &past, Expired: true}})
	if fs[0].State != rules.StateViolation || fs[0].Exemption == nil || !fs[0].Exemption.Expired {
		t.Errorf("expired exemption applied or not reported: %+v", fs[0])
	}
}
