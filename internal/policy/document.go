// Package policy models IAM policy documents exactly as AWS accepts them, validates them in the
// spirit of IAM's MalformedPolicyDocument errors, and evaluates requests against sets of
// identity policies, a permissions boundary, service control policies and resource policies with
// AWS's evaluation logic.
//
// Documents are parsed once into a Policy that keeps the model (for linters and generators) and a
// compiled form (lower-cased action patterns, split wildcard patterns, parsed condition values)
// that the evaluator walks without allocating.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Versions IAM accepts. Policy variables are only recognised in Version2012.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is an IAM policy document as written in JSON.
type Document struct {
	Version   string      `json:"Version,omitempty"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
	// StatementIsObject records that Statement was a single object rather than an array.
	StatementIsObject bool `json:"-"`
}

// Statement is one statement of a policy document. Absent elements are nil; present but empty
// lists are non-nil and empty.
type Statement struct {
	Sid          string        `json:"Sid,omitempty"`
	Effect       string        `json:"Effect"`
	Principal    *Principal    `json:"Principal,omitempty"`
	NotPrincipal *Principal    `json:"NotPrincipal,omitempty"`
	Action       StringOrSlice `json:"Action,omitempty"`
	NotAction    StringOrSlice `json:"NotAction,omitempty"`
	Resource     StringOrSlice `json:"Resource,omitempty"`
	NotResource  StringOrSlice `json:"NotResource,omitempty"`
	Condition    Condition     `json:"Condition,omitempty"`
	// Line is the 1-based line of the statement's opening brace in the source; 0 when unknown.
	Line int `json:"-"`
}

// Effects.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// StringOrSlice is IAM's "a string or a list of strings". A single string is remembered so that
// marshalling writes it back in the same form.
type StringOrSlice []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *StringOrSlice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty value")
	}
	switch b[0] {
	case '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = StringOrSlice{v}
		return nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(StringOrSlice, 0, len(raw))
		for _, r := range raw {
			var v string
			if err := json.Unmarshal(r, &v); err != nil {
				return fmt.Errorf("list element %s is not a string", bytes.TrimSpace(r))
			}
			out = append(out, v)
		}
		*s = out
		return nil
	default:
		return fmt.Errorf("want a string or a list of strings, got %.30s", b)
	}
}

// MarshalJSON implements json.Marshaler: one element is written as a string.
func (s StringOrSlice) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// Principal is a Principal or NotPrincipal element: "*" or a map of principal type ("AWS",
// "Service", "Federated", "CanonicalUser") to identifiers.
type Principal struct {
	Wildcard bool
	Map      map[string]StringOrSlice
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Principal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if v != "*" {
			return fmt.Errorf("a principal string must be \"*\", got %q", v)
		}
		*p = Principal{Wildcard: true}
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("want \"*\" or an object of principal types, got %.30s", b)
	}
	m := map[string]StringOrSlice{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = Principal{Map: m}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (p Principal) MarshalJSON() ([]byte, error) {
	if p.Wildcard {
		return []byte(`"*"`), nil
	}
	return json.Marshal(p.Map)
}

// Condition is operator -> condition key -> values.
type Condition map[string]map[string]ConditionValues

// ConditionValues are a condition's values in their JSON text form: strings as they are, booleans
// as "true"/"false" and numbers as written, since AWS compares the text.
type ConditionValues []string

// UnmarshalJSON implements json.Unmarshaler.
func (c *ConditionValues) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(ConditionValues, 0, len(raw))
		for _, r := range raw {
			v, err := scalarText(r)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		*c = out
		return nil
	}
	v, err := scalarText(b)
	if err != nil {
		return err
	}
	*c = ConditionValues{v}
	return nil
}

// MarshalJSON implements json.Marshaler: values are written as strings.
func (c ConditionValues) MarshalJSON() ([]byte, error) {
	if len(c) == 1 {
		return json.Marshal(c[0])
	}
	return json.Marshal([]string(c))
}

func scalarText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", fmt.Errorf("empty condition value")
	}
	switch {
	case b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		return string(b), nil
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	default:
		return "", fmt.Errorf("condition value must be a string, boolean or number, got %.30s", b)
	}
}

// Operators returns the condition's operators in sorted order.
func (c Condition) Operators() []string {
	ops := make([]string, 0, len(c))
	for op := range c {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// MarshalJSON implements json.Marshaler: a single statement stays an object.
func (d Document) MarshalJSON() ([]byte, error) {
	type plain struct {
		Version   string `json:"Version,omitempty"`
		ID        string `json:"Id,omitempty"`
		Statement any    `json:"Statement"`
	}
	p := plain{Version: d.Version, ID: d.ID, Statement: d.Statement}
	if d.StatementIsObject && len(d.Statement) == 1 {
		p.Statement = d.Statement[0]
	}
	return json.Marshal(p)
}

// Describe names the statement for messages: "statement 2 (Sid DenyNoMFA)".
func (s *Statement) describe(index int) string {
	if s.Sid != "" {
		return fmt.Sprintf("statement %d (Sid %s)", index, s.Sid)
	}
	return fmt.Sprintf("statement %d", index)
}

func lowerASCII(s string) string { return strings.ToLower(s) }
