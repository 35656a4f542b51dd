package exempt_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
)

var asOf = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func date(s string) config.Date {
	t, err := config.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return config.Date{Time: t}
}

func TestExemption(t *testing.T) {
	cfg := &config.Config{
		Exemptions: []config.Exemption{
			{User: "svc", Rules: []string{"access-key-not-rotated"}, Reason: "vendor key", Until: date("2027-01-01")},
			{User: "old", Reason: "migrated", Until: date("2026-01-01")},
			{User: "both", Reason: "expired one", Until: date("2026-01-01")},
			{User: "both", Reason: "current one", Until: date("2026-12-31")},
		},
		ExemptionParameter:      "/iam-unused-user-cleanup/excluded-users",
		ExemptionParameterRules: []string{"password-unused", "access-key-unused"},
	}
	set := exempt.New(cfg, []string{"legacy"})
	cases := []struct {
		name    string
		user    inventory.User
		rule    string
		ok      bool
		reason  string
		source  string
		expired bool
	}{
		{"config, matching rule", inventory.User{Name: "svc"}, "access-key-not-rotated", true, "vendor key", "config", false},
		{"config, other rule", inventory.User{Name: "svc"}, "access-key-unused", false, "", "", false},
		{"config, expired", inventory.User{Name: "old"}, "password-unused", true, "migrated", "config", true},
		{"unexpired wins over expired", inventory.User{Name: "both"}, "password-unused", true, "current one", "config", false},
		{"ssm list, listed rule", inventory.User{Name: "legacy"}, "password-unused", true, "listed in SSM parameter /iam-unused-user-cleanup/excluded-users", "ssm:/iam-unused-user-cleanup/excluded-users", false},
		{"ssm list, other rule", inventory.User{Name: "legacy"}, "console-mfa-missing", false, "", "", false},
		{"tags, all rules", inventory.User{Name: "bg", Tags: map[string]string{
			exempt.TagReason: "break glass", exempt.TagUntil: "2027-06-30"}}, "console-mfa-missing", true, "break glass", "tag", false},
		{"tags, rule list with spaces", inventory.User{Name: "bg", Tags: map[string]string{
			exempt.TagReason: "break glass", exempt.TagUntil: "2027-06-30", exempt.TagRules: "console-mfa-missing user-mfa-missing"}}, "password-unused", false, "", "", false},
		{"tags, expired", inventory.User{Name: "bg", Tags: map[string]string{
			exempt.TagReason: "break glass", exempt.TagUntil: "2026-01-31"}}, "user-mfa-missing", true, "break glass", "tag", true},
		{"tags, expiry is end of day", inventory.User{Name: "bg", Tags: map[string]string{
			exempt.TagReason: "r", exempt.TagUntil: "2026-11-20"}}, "user-mfa-missing", true, "r", "tag", false},
		{"tags without reason are ignored", inventory.User{Name: "bg", Tags: map[string]string{
			exempt.TagUntil: "2027-06-30"}}, "user-mfa-missing", false, "", "", false},
		{"no exemption", inventory.User{Name: "alice"}, "user-mfa-missing", false, "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, ok := set.Exemption(&c.user, c.rule, asOf)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, c.ok, e)
			}
			if !ok {
				return
			}
			if e.Reason != c.reason || e.Source != c.source || e.Expired != c.expired {
				t.Errorf("got %+v, want reason %q source %q expired %v", e, c.reason, c.source, c.expired)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	users := []inventory.User{
		{Name: "ok", Tags: map[string]string{exempt.TagReason: "r", exempt.TagUntil: "2027-01-01"}},
		{Name: "noreason", Tags: map[string]string{exempt.TagUntil: "2027-01-01"}},
		{Name: "baddate", Tags: map[string]string{exempt.TagReason: "r", exempt.TagUntil: "soon"}},
		{Name: "badrule", Tags: map[string]string{exempt.TagReason: "r", exempt.TagUntil: "2027-01-01", exempt.TagRules: "no-such-rule"}},
		{Name: "commas", Tags: map[string]string{exempt.TagReason: "r", exempt.TagUntil: "2027-01-01", exempt.TagRules: "password-unused,access-key-unused"}},
		{Name: "untagged"},
	}
	probs := exempt.Problems(users)
	want := map[string]string{"noreason": exempt.TagReason, "baddate": `invalid date "soon"`, "badrule": `unknown rule "no-such-rule"`,
		"commas": `iamwarden:exempt-rules "password-unused,access-key-unused": separate rule IDs with spaces, not commas (IAM tag values cannot hold commas): "password-unused access-key-unused"`}
	if len(probs) != len(want) {
		t.Fatalf("problems = %+v", probs)
	}
	for _, p := range probs {
		if !strings.Contains(p.Message, want[p.Principal]) {
			t.Errorf("%s: %q does not mention %q", p.Principal, p.Message, want[p.Principal])
		}
	}
}

type fakeSSM struct {
	get func(*ssm.GetParameterInput) (*ssm.GetParameterOutput, error)
}

var _ exempt.ParameterAPI = (*fakeSSM)(nil)

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return f.get(in)
}

func TestLoadParameter(t *testing.T) {
	f := &fakeSSM{get: func(in *ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
		if aws.ToString(in.Name) != "/p" {
			return nil, &ssmtypes.ParameterNotFound{Message: aws.String("nope")}
		}
		return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(" alice, bob,,carol ")}}, nil
	}}
	users, err := exempt.LoadParameter(context.Background(), f, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(users, "|") != "alice|bob|carol" {
		t.Errorf("users = %q", users)
	}
	if _, err := exempt.LoadParameter(context.Background(), f, "/missing"); !errors.Is(err, exempt.ErrParameterNotFound) {
		t.Errorf("missing parameter: err = %v, want ErrParameterNotFound", err)
	}
}

// An SSM list that exists but cannot be read stops the caller; one that does not exist is empty.
func TestLoad(t *testing.T) {
	cfg := config.Default()
	cfg.ExemptionParameter = "/excluded"
	denied := &fakeSSM{get: func(*ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}
	}}
	if _, err := exempt.Load(context.Background(), denied, cfg); err == nil || !strings.Contains(err.Error(), "refusing to act") {
		t.Errorf("unreadable list: %v", err)
	}
	missing := &fakeSSM{get: func(*ssm.GetParameterInput) (*ssm.GetParameterOutput, error) {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("nope")}
	}}
	if set, err := exempt.Load(context.Background(), missing, cfg); err != nil || set == nil {
		t.Errorf("missing list: %v, %v", set, err)
	}
}
