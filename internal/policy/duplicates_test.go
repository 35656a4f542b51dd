package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

func TestParseRefusesDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int
		want string
	}{
		{"two Effects", "{\"Version\":\"2012-10-17\",\"Statement\":[\n{\"Effect\":\"Deny\",\n\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}", 3,
			`Statement[0]: Effect: duplicate key "Effect"`},
		{"two Statements", "{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}],\n\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}", 3,
			`Statement: duplicate key "Statement"`},
		{"two operators in a Condition", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\n\"Bool\":{\"aws:MultiFactorAuthPresent\":\"false\"},\n\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}", 3,
			`Statement[0]: Condition: duplicate key "Bool"`},
		{"two keys under an operator", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\n\"aws:MultiFactorAuthPresent\":\"false\",\n\"aws:MultiFactorAuthPresent\":\"true\"}}}]}", 3,
			`Statement[0]: Condition: duplicate key "aws:MultiFactorAuthPresent"`},
		{"two principal types", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Principal\":{\"AWS\":\"111122223333\",\n\"AWS\":\"*\"}}]}", 2,
			`Statement[0]: Principal: duplicate key "AWS"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind := policy.KindIdentity
			if strings.Contains(tc.doc, "Principal") {
				kind = policy.KindResource
			}
			_, err := policy.Parse("p.json", []byte(tc.doc), kind)
			var ve *policy.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse accepted a document with a duplicate key (err %v)", err)
			}
			found := false
			for _, is := range ve.Issues {
				if strings.Contains(is.Error(), tc.want) && is.Line == tc.line {
					found = true
				}
			}
			if !found {
				t.Errorf("issues %v: want %q on line %d", ve.Issues, tc.want, tc.line)
			}
		})
	}
}

func TestParseAcceptsBOM(t *testing.T) {
	doc := "\ufeff{\"Version\":\"2012-10-17\",\n\"Statement\":[\n{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"
	p, err := policy.Parse("bom.json", []byte(doc), policy.KindIdentity)
	if err != nil {
		t.Fatalf("a UTF-8 byte order mark is refused: %v", err)
	}
	if p.Document.Statement[0].Line != 3 {
		t.Errorf("statement line %d, want 3", p.Document.Statement[0].Line)
	}
}

// policyOf returns a document of n statements, one per line, each with a condition.
func policyOf(n int) []byte {
	var b strings.Builder
	b.WriteString("{\"Version\":\"2012-10-17\",\"Statement\":[\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"Sid":"S%d","Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"arn:aws:s3:::bucket-%d/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"t%d"}}}`, i, i, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func TestParseLargeDocumentLines(t *testing.T) {
	p, err := policy.Parse("big.json", policyOf(2000), policy.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range p.Document.Statement {
		if st.Line != i+2 || st.Sid != fmt.Sprintf("S%d", i) {
			t.Fatalf("statement %d: line %d sid %s, want line %d", i, st.Line, st.Sid, i+2)
		}
	}
}
