package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

func TestConditions(t *testing.T) {
	str := policy.String
	ctx := map[string]policy.Value{
		"aws:username":               str("alice"),
		"aws:PrincipalTag/team":      str("Red"),
		"aws:MultiFactorAuthPresent": policy.Bool(false),
		"aws:MultiFactorAuthAge":     policy.Value{Type: policy.TypeNumeric, Values: []string{"300"}},
		"aws:CurrentTime":            policy.Value{Type: policy.TypeDate, Values: []string{"2026-11-23T12:00:00Z"}},
		"aws:EpochTime":              policy.Value{Type: policy.TypeNumeric, Values: []string{"1795435200"}},
		"aws:SourceIp":               policy.IP("203.0.113.7"),
		"aws:SourceIpV6":             policy.IP("2001:db8::1"),
		"aws:TagKeys":                policy.Strings("env", "team"),
		"aws:EmptyList":              policy.Strings(),
		"aws:SourceArn":              str("arn:aws:sns:us-east-1:123456789012:topic"),
		"s3:x-amz-content-sha256":    policy.Value{Type: policy.TypeBinary, Values: []string{"aGVsbG8="}},
		"aws:SecureTransport":        policy.Bool(true),
	}
	tests := []struct {
		name string
		cond string
		want bool
	}{
		{"StringEquals", `{"StringEquals":{"aws:username":"alice"}}`, true},
		{"StringEquals case-sensitive", `{"StringEquals":{"aws:username":"Alice"}}`, false},
		{"key names are case-insensitive", `{"StringEquals":{"AWS:USERNAME":"alice"}}`, true},
		{"values are ORed", `{"StringEquals":{"aws:username":["bob","alice"]}}`, true},
		{"keys are ANDed", `{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"Blue"}}`, false},
		{"operators are ANDed", `{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"false"}}`, false},
		{"StringNotEquals is NOR", `{"StringNotEquals":{"aws:username":["bob","alice"]}}`, false},
		{"StringNotEquals no match", `{"StringNotEquals":{"aws:username":["bob","carol"]}}`, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"RED"}}`, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"red"}}`, false},
		{"StringLike", `{"StringLike":{"aws:username":"al*"}}`, true},
		{"StringLike question", `{"StringLike":{"aws:username":"al?ce"}}`, true},
		{"StringLike is case-sensitive", `{"StringLike":{"aws:username":"AL*"}}`, false},
		{"StringEquals does not expand wildcards", `{"StringEquals":{"aws:username":"al*"}}`, false},
		{"StringNotLike", `{"StringNotLike":{"aws:username":"b*"}}`, true},
		{"StringEquals with variable", `{"StringEquals":{"aws:username":"${aws:username}"}}`, true},
		{"StringLike with variable", `{"StringLike":{"aws:SourceArn":"arn:aws:sns:*:*:${aws:PrincipalTag/missing, 'topic'}"}}`, true},
		{"unresolvable variable in a negated operator", `{"StringNotEquals":{"aws:username":"${aws:PrincipalTag/missing}"}}`, false},
		{"unresolvable variable matches nothing", `{"StringEquals":{"aws:username":"${aws:PrincipalTag/missing}"}}`, false},
		{"unresolvable variable among values", `{"StringEquals":{"aws:username":["${aws:PrincipalTag/missing}","alice"]}}`, true},
		{"NumericLessThan", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, true},
		{"NumericLessThan JSON number", `{"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}`, true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`, false},
		{"NumericEquals", `{"NumericEquals":{"aws:MultiFactorAuthAge":"300.0"}}`, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"aws:MultiFactorAuthAge":"300"}}`, false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"300"}}`, true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"301"}}`, false},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, true},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}`, false},
		{"DateEquals epoch", `{"DateEquals":{"aws:CurrentTime":"1795435200"}}`, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-11-23T12:00:00Z"}}`, false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-11-23T12:00:00Z"}}`, true},
		{"DateGreaterThanEquals on epoch key", `{"DateGreaterThanEquals":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}`, true},
		{"Bool", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, true},
		{"Bool JSON boolean", `{"Bool":{"aws:MultiFactorAuthPresent":false}}`, true},
		{"Bool true", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, false},
		{"Bool case-insensitive", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, true},
		{"BinaryEquals", `{"BinaryEquals":{"s3:x-amz-content-sha256":"aGVsbG8="}}`, true},
		{"BinaryEquals other", `{"BinaryEquals":{"s3:x-amz-content-sha256":"aGVsbG9v"}}`, false},
		{"IpAddress", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, true},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, false},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIpV6":"2001:db8::/32"}}`, true},
		{"IPv4 address not in IPv6 block", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, true},
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}`, true},
		{"ArnEquals with wildcard", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:*:topic"}}`, true},
		{"ArnNotLike", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sqs:*"}}`, true},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}`, false},
		{"missing key", `{"StringEquals":{"aws:PrincipalTag/dept":"x"}}`, false},
		{"missing key negated", `{"StringNotEquals":{"aws:PrincipalTag/dept":"x"}}`, true},
		{"missing key NotIpAddress", `{"NotIpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}`, true},
		{"missing key Bool false", `{"Bool":{"aws:ViaAWSService":"false"}}`, false},
		{"missing key BoolIfExists", `{"BoolIfExists":{"aws:ViaAWSService":"false"}}`, true},
		{"present key BoolIfExists", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, false},
		{"missing key NumericLessThanIfExists", `{"NumericLessThanIfExists":{"aws:PrincipalTag/n":"1"}}`, true},
		{"Null true on missing", `{"Null":{"aws:PrincipalTag/dept":"true"}}`, true},
		{"Null true on present", `{"Null":{"aws:username":"true"}}`, false},
		{"Null false on present", `{"Null":{"aws:username":"false"}}`, true},
		{"Null false on missing", `{"Null":{"aws:PrincipalTag/dept":false}}`, false},
		{"ForAnyValue", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","owner"]}}`, true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}`, false},
		{"ForAllValues", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","owner"]}}`, true},
		{"ForAllValues one outside", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, false},
		{"ForAllValues missing key", `{"ForAllValues:StringEquals":{"aws:RequestTag/x":["a"]}}`, true},
		{"ForAllValues empty list", `{"ForAllValues:StringEquals":{"aws:EmptyList":["a"]}}`, true},
		{"ForAnyValue missing key", `{"ForAnyValue:StringEquals":{"aws:RequestTag/x":["a"]}}`, false},
		{"ForAnyValue negated", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, true},
		{"ForAllValues negated", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["env"]}}`, false},
		{"ForAnyValue StringLike", `{"ForAnyValue:StringLike":{"aws:TagKeys":["t*"]}}`, true},
		{"multi-valued key without qualifier", `{"StringEquals":{"aws:TagKeys":"team"}}`, true},
		{"multi-valued key negated without qualifier", `{"StringNotEquals":{"aws:TagKeys":"team"}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cond map[string]any
			if err := json.Unmarshal([]byte(tc.cond), &cond); err != nil {
				t.Fatal(err)
			}
			doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Sid": "C", "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": cond}}})
			p, err := policy.Parse("cond", doc, policy.KindIdentity)
			if err != nil {
				t.Fatal(err)
			}
			d := policy.Evaluate(&policy.PolicySet{Identity: []*policy.Policy{p}}, &policy.Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx})
			if d.Allowed() != tc.want {
				t.Errorf("%s: condition = %v, want %v", tc.cond, d.Allowed(), tc.want)
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		typ     policy.ValueType
		text    string
		want    []string
		wantErr bool
	}{
		{policy.TypeString, "a,b", []string{"a,b"}, false},
		{policy.TypeStringList, "a, b", []string{"a", "b"}, false},
		{policy.TypeBoolean, "TRUE", []string{"true"}, false},
		{policy.TypeBoolean, "yes", nil, true},
		{policy.TypeNumeric, "12.5", []string{"12.5"}, false},
		{policy.TypeNumeric, "x", nil, true},
		{policy.TypeIPList, "10.0.0.1,::1", []string{"10.0.0.1", "::1"}, false},
		{policy.TypeIP, "10.0.0.300", nil, true},
		{policy.TypeDate, "2026-11-23T00:00:00Z", []string{"2026-11-23T00:00:00Z"}, false},
		{policy.TypeDate, "yesterday", nil, true},
		{policy.TypeBinary, "aGVsbG8=", []string{"aGVsbG8="}, false},
		{policy.TypeBinary, "***", nil, true},
		{"text", "x", nil, true},
	}
	for _, tc := range tests {
		v, err := policy.ParseValue(tc.typ, tc.text)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s %q: err = %v", tc.typ, tc.text, err)
			continue
		}
		if tc.wantErr {
			continue
		}
		if v.Type != tc.typ || len(v.Values) != len(tc.want) {
			t.Errorf("%s %q: got %+v", tc.typ, tc.text, v)
			continue
		}
		for i := range tc.want {
			if v.Values[i] != tc.want[i] {
				t.Errorf("%s %q: got %q", tc.typ, tc.text, v.Values)
			}
		}
	}
}

func TestContextFor(t *testing.T) {
	tests := []struct {
		kind       policy.AuthKind
		mfa        string // "" = absent
		mfaAgeSeen bool
	}{
		{policy.AuthConsole, "false", false},
		{policy.AuthAccessKey, "", false},
		{policy.AuthConsoleMFA, "true", true},
		{policy.AuthSessionMFA, "true", true},
	}
	for _, tc := range tests {
		ctx, err := policy.ContextFor("arn:aws:iam::123456789012:user/dev/ops/alice", tc.kind, policy.ContextOptions{UserID: "AIDAEXAMPLE"})
		if err != nil {
			t.Fatal(err)
		}
		v, ok := ctx["aws:MultiFactorAuthPresent"]
		switch {
		case tc.mfa == "" && ok:
			t.Errorf("%s: MultiFactorAuthPresent present: %v", tc.kind, v)
		case tc.mfa != "" && (!ok || v.Values[0] != tc.mfa):
			t.Errorf("%s: MultiFactorAuthPresent = %v, want %s", tc.kind, v, tc.mfa)
		}
		if _, ok := ctx["aws:MultiFactorAuthAge"]; ok != tc.mfaAgeSeen {
			t.Errorf("%s: MultiFactorAuthAge present = %v", tc.kind, ok)
		}
		for k, want := range map[string]string{"aws:username": "alice", "aws:userid": "AIDAEXAMPLE", "aws:PrincipalAccount": "123456789012", "aws:PrincipalType": "User", "aws:PrincipalArn": "arn:aws:iam::123456789012:user/dev/ops/alice", "aws:SecureTransport": "true"} {
			if got := ctx[k]; len(got.Values) != 1 || got.Values[0] != want {
				t.Errorf("%s: %s = %v, want %s", tc.kind, k, got, want)
			}
		}
		if _, ok := ctx["aws:CurrentTime"]; ok {
			t.Errorf("%s: CurrentTime set without a clock", tc.kind)
		}
	}
	if _, err := policy.ContextFor("alice", policy.AuthConsole, policy.ContextOptions{}); err == nil {
		t.Error("ContextFor accepted a non-ARN principal")
	}
}
