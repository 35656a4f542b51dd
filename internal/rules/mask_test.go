package rules_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/rules"
)

func TestMaskKeyID(t *testing.T) {
	tests := map[string]string{
		"AKIAIOSFODNN7EXAMPLE": "AKIA…MPLE",
		"ASIAY34FZKBOKMUTVV7A": "ASIA…VV7A",
		"AKIA12345":            "AKIA…2345",
		"AKIA1234":             "…",
		"AKIA":                 "…",
		"access_key_1":         "access_key_1",
		"access_key_2":         "access_key_2",
		"":                     "",
	}
	for in, want := range tests {
		if got := rules.MaskKeyID(in); got != want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskFindingID(t *testing.T) {
	for in, want := range map[string]string{
		"123456789012/access-key-unused/bob/AKIAIOSFODNN7EXAMPLE": "123456789012/access-key-unused/bob/AKIA…MPLE",
		"123456789012/access-key-unused/bob/access_key_2":         "123456789012/access-key-unused/bob/access_key_2",
		"123456789012/console-mfa-missing/alice":                  "123456789012/console-mfa-missing/alice",
		"":                                                        "",
	} {
		if got := rules.MaskFindingID(in); got != want {
			t.Errorf("MaskFindingID(%q) = %q, want %q", in, got, want)
		}
	}
}
