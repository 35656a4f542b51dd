package policy_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// resourceRegexp is the Resource wildcard rule written as a regular expression: a * that ends a
// colon-separated segment matches anything, any other * or ? stays within its segment.
func resourceRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			if i+1 == len(pattern) || pattern[i+1] == ':' {
				b.WriteString(".*")
			} else {
				b.WriteString("[^:]*")
			}
		case '?':
			b.WriteString("[^:]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestResourceWildcardsAgainstRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 20000 {
		pat := "arn:" + gen("ab:*?", 1+r.IntN(8))
		res := "arn:" + gen("ab:", r.IntN(10))
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"` + pat + `"}]}`
		set := &policy.PolicySet{Identity: []*policy.Policy{policy.MustParse("p", doc, policy.KindIdentity)}}
		got := policy.Evaluate(set, &policy.Request{Action: "s3:GetObject", Resource: res}).Allowed()
		if want := resourceRegexp(pat).MatchString(res); got != want {
			t.Fatalf("case %d: pattern %q resource %q: matched = %v, want %v", i, pat, res, got, want)
		}
	}
}
