package policy_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		kind policy.Kind
		doc  string
		want []string // substrings of the error
	}{
		{"missing effect", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Sid":"A","Action":"s3:*","Resource":"*"}]}`,
			[]string{`Statement[0] (Sid "A"): Effect: missing`}},
		{"bad effect", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}`,
			[]string{`Statement[0]: Effect: must be "Allow" or "Deny", got "allow"`}},
		{"action and notaction", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}`,
			[]string{"both Action and NotAction"}},
		{"no action", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`,
			[]string{"needs Action or NotAction"}},
		{"no resource in identity policy", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`,
			[]string{"Resource: a statement needs Resource or NotResource"}},
		{"unknown top-level key", policy.KindIdentity,
			`{"Version":"2012-10-17","Statment":[],"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
			[]string{"Statment: unknown element"}},
		{"unknown statement key", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"s3:*","Action":"s3:*","Resource":"*"}]}`,
			[]string{"Statement[0]: Actions: unknown element"}},
		{"unknown operator", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}]}`,
			[]string{`unknown condition operator "StringEqualz"`}},
		{"unknown set operator", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}]}`,
			[]string{`unknown set operator "ForSomeValues"`}},
		{"bad version", policy.KindIdentity,
			`{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
			[]string{`Version: must be "2012-10-17" or "2008-10-17", got "2012-10-18"`}},
		{"duplicate sid", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Sid":"X","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"X","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`,
			[]string{`Statement[1] (Sid "X"): Sid: duplicate Sid, also used by Statement[0]`}},
		{"invalid json", policy.KindIdentity,
			"{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\",, }\n  ]\n}",
			[]string{"bad.json:4:", "invalid JSON"}},
		{"principal in identity policy", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`,
			[]string{"identity policies cannot name a principal"}},
		{"resource policy without principal", policy.KindResource,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
			[]string{"needs Principal or NotPrincipal"}},
		{"bad action", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3GetObject","Resource":"*"}]}`,
			[]string{`"s3GetObject" must be "service:action"`}},
		{"bad resource", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}`,
			[]string{`"bucket" must be an ARN`}},
		{"bad cidr", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]}`,
			[]string{"not an IP address or CIDR block"}},
		{"action not a string", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`,
			[]string{"Action: want a string or a list of strings"}},
		{"no statement", policy.KindIdentity, `{"Version":"2012-10-17"}`,
			[]string{"Statement: missing required element"}},
		{"null with IfExists", policy.KindIdentity,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NullIfExists":{"aws:TokenIssueTime":"true"}}}]}`,
			[]string{"Null takes no IfExists"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("bad.json", []byte(tc.doc), tc.kind)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !errors.Is(err, policy.ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
			var ve *policy.ValidationError
			if !errors.As(err, &ve) || len(ve.Issues) == 0 {
				t.Fatalf("error %T carries no issues", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseLinesAndShapes(t *testing.T) {
	data, err := os.ReadFile("testdata/seed004_aws_example.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("seed004_aws_example.json", data, policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(p.Document.Statement) != 4 {
		t.Fatalf("got %d statements, want 4", len(p.Document.Statement))
	}
	for i, st := range p.Document.Statement {
		if st.Line < 1 || strings.TrimSpace(lines[st.Line-1]) != "{" || !strings.Contains(lines[st.Line], `"Sid": "`+st.Sid+`"`) {
			t.Errorf("statement %d (%s): line %d does not open it", i, st.Sid, st.Line)
		}
	}
	last := p.Document.Statement[3]
	if last.Effect != "Deny" || len(last.NotAction) != 6 || last.Action != nil || last.Resource[0] != "*" {
		t.Errorf("last statement decoded as %+v", last)
	}
	if got := last.Condition["BoolIfExists"]["aws:MultiFactorAuthPresent"]; len(got) != 1 || got[0] != "false" {
		t.Errorf("condition values = %q, want [false]", got)
	}
}

func TestParseURLEncodedAndScalars(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":false},"NumericLessThan":{"aws:MultiFactorAuthAge":[3600, 7200.5]}}}}`
	p, err := policy.Parse("enc", []byte(url.QueryEscape(doc)), policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	st := p.Document.Statement[0]
	if got := st.Condition["Bool"]["aws:MultiFactorAuthPresent"]; len(got) != 1 || got[0] != "false" {
		t.Errorf("bool value = %q", got)
	}
	if got := st.Condition["NumericLessThan"]["aws:MultiFactorAuthAge"]; len(got) != 2 || got[0] != "3600" || got[1] != "7200.5" {
		t.Errorf("numeric values = %q", got)
	}
	out, err := json.Marshal(p.Document)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"NumericLessThan":{"aws:MultiFactorAuthAge":["3600","7200.5"]}}}}`
	if string(out) != want {
		t.Errorf("marshal:\n got %s\nwant %s", out, want)
	}
}

func TestStringOrSlice(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`"s3:GetObject"`, []string{"s3:GetObject"}, false},
		{`["a:b","c:d"]`, []string{"a:b", "c:d"}, false},
		{`[]`, []string{}, false},
		{`[1]`, nil, true},
		{`{"a":1}`, nil, true},
	}
	for _, tc := range tests {
		var s policy.StringOrSlice
		err := json.Unmarshal([]byte(tc.in), &s)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", tc.in, err)
			continue
		}
		if !tc.wantErr && (len(s) != len(tc.want) || s == nil) {
			t.Errorf("%s: got %#v, want %#v", tc.in, s, tc.want)
		}
		for i := range tc.want {
			if s[i] != tc.want[i] {
				t.Errorf("%s: got %q", tc.in, s)
			}
		}
	}
}
