package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// PolicyDocument is a policy's JSON text. The IAM API returns documents URL-encoded
// (RFC 3986); the AWS CLI decodes them and prints JSON objects. Unmarshal accepts a JSON object,
// a JSON string holding raw JSON, or a JSON string holding URL-encoded JSON; Marshal writes the
// object form, as the CLI does.
type PolicyDocument string

// DecodePolicyDocument turns an API policy document (URL-encoded or not) into plain JSON text.
func DecodePolicyDocument(s string) (string, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") {
		return t, nil
	}
	dec, err := url.QueryUnescape(t)
	if err != nil {
		return "", fmt.Errorf("policy document is neither JSON nor URL-encoded JSON: %w", err)
	}
	dec = strings.TrimSpace(dec)
	if !strings.HasPrefix(dec, "{") {
		return "", fmt.Errorf("policy document does not decode to a JSON object")
	}
	return dec, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *PolicyDocument) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*d = ""
		return nil
	case b[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return fmt.Errorf("policy document: %w", err)
		}
		*d = PolicyDocument(b)
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("policy document: %w", err)
		}
		dec, err := DecodePolicyDocument(s)
		if err != nil {
			return err
		}
		if !json.Valid([]byte(dec)) {
			return fmt.Errorf("policy document is not valid JSON")
		}
		*d = PolicyDocument(dec)
		return nil
	default:
		return fmt.Errorf("policy document must be a JSON object or string, got %.20s", b)
	}
}

// MarshalJSON implements json.Marshaler.
func (d PolicyDocument) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("null"), nil
	}
	if !json.Valid([]byte(d)) {
		return nil, fmt.Errorf("policy document is not valid JSON")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(d)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
