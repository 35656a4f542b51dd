package policy_test

import (
	"fmt"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// BenchmarkEvaluate decides requests against a typical user's policies: the enforce-MFA policy of
// the Security Hub IAM.5 remedy (10 statements), a group policy with conditions and a managed
// read-only policy, with a permissions boundary.
func BenchmarkEvaluate(b *testing.B) {
	group := policy.MustParse("group", `{"Version":"2012-10-17","Statement":[
		{"Sid":"Team","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::team-${aws:PrincipalTag/team, 'none'}/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}},
		{"Sid":"Office","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}},
		{"Sid":"Young","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`, policy.KindIdentity)
	readOnly := policy.MustParse("readonly", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","ec2:Describe*","iam:Get*","iam:List*"],"Resource":"*"}]}`, policy.KindIdentity)
	boundary := policy.MustParse("boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["organizations:*","account:*"],"Resource":"*"}]}`, policy.KindBoundary)
	set := &policy.PolicySet{
		Identity: []*policy.Policy{load(b, "seed001_enforce_mfa.json", policy.KindIdentity), group, readOnly},
		Boundary: boundary,
	}
	ctxs := []map[string]policy.Value{ctxFor(b, policy.AuthConsole), ctxFor(b, policy.AuthAccessKey), ctxFor(b, policy.AuthConsoleMFA)}
	for _, c := range ctxs {
		c["aws:SourceIp"] = policy.IP("203.0.113.9")
		c["aws:PrincipalTag/team"] = policy.String("red")
	}
	reqs := []policy.Request{
		{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::team-red/report.csv"},
		{Principal: alice, Action: "iam:CreateVirtualMFADevice", Resource: "arn:aws:iam::123456789012:mfa/phone"},
		{Principal: alice, Action: "iam:ChangePassword", Resource: alice},
		{Principal: alice, Action: "ec2:RunInstances", Resource: "arn:aws:ec2:us-east-1:123456789012:instance/*"},
	}
	var all []policy.Request
	for _, c := range ctxs {
		for _, r := range reqs {
			r.Context = c
			all = append(all, r)
		}
	}
	d := policy.Decision{Deciding: make([]policy.StatementRef, 0, 16)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		policy.EvaluateInto(set, &all[i%len(all)], &d)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkParse parses documents of two sizes and reports the time per statement, which stays
// flat when parsing is linear in the size of the document.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{5000, 50000} {
		data := policyOf(n)
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := policy.Parse("big.json", data, policy.KindIdentity); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/statement")
		})
	}
}
