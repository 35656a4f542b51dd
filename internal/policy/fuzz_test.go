package policy_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// FuzzParseEvaluate checks that no document makes the parser or the evaluator panic, and that
// an accepted document can be evaluated.
func FuzzParseEvaluate(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`, "s3:GetObject", "arn:aws:s3:::b/alice/k")
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"iam:*MFA*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"},"ForAllValues:StringLike":{"aws:CalledVia":["*"]}}}]}`, "ec2:RunInstances", "*")
	f.Add(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:*:1*:?${*}${","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateLessThan":{"aws:CurrentTime":1}}}]}`, "a:b", "arn:aws:x:y:1:z")
	ctx := map[string]policy.Value{
		"aws:username":               policy.String("alice"),
		"aws:MultiFactorAuthPresent": policy.Bool(false),
		"aws:SourceIp":               policy.IP("10.1.2.3"),
		"aws:CalledVia":              policy.Strings("athena.amazonaws.com"),
		"aws:CurrentTime":            policy.Value{Type: policy.TypeDate, Values: []string{"2026-11-23T12:00:00Z"}},
	}
	f.Fuzz(func(t *testing.T, doc, action, resource string) {
		p, err := policy.Parse("fuzz", []byte(doc), policy.KindIdentity)
		if err != nil {
			return
		}
		d := policy.Evaluate(&policy.PolicySet{Identity: []*policy.Policy{p}}, &policy.Request{Principal: alice, Action: action, Resource: resource, Context: ctx})
		if d.Result != policy.ImplicitDeny && len(d.Deciding) == 0 {
			t.Errorf("decision %s without deciding statements", d.Result)
		}
	})
}
