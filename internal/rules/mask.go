package rules

import "strings"

// MaskKeyID shortens an access key ID for display: its first four and last four characters
// ("AKIA…WXYZ"). IDs of eight characters or fewer are masked entirely. Names that are not key IDs
// (the credential report's slot names such as "access_key_1") are returned unchanged.
func MaskKeyID(id string) string {
	if !isKeyID(id) {
		return id
	}
	if len(id) <= 8 {
		return "…"
	}
	return id[:4] + "…" + id[len(id)-4:]
}

// isKeyID reports whether s looks like an AWS access key ID: upper-case letters and digits only.
func isKeyID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// MaskFindingID masks the access key ID a finding ID ends with (ACCOUNT/RULE/PRINCIPAL/KEY), for
// display; IDs of findings about a principal are returned unchanged.
func MaskFindingID(id string) string {
	parts := strings.SplitN(id, "/", 4)
	if len(parts) != 4 {
		return id
	}
	parts[3] = MaskKeyID(parts[3])
	return strings.Join(parts, "/")
}
