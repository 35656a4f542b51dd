package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownRule is returned by Select for a rule ID that is not registered.
var ErrUnknownRule = errors.New("unknown rule")

// Registry lists every rule, in report order.
func Registry() []Rule {
	return []Rule{
		consoleMFAMissing(),
		userMFAMissing(),
		rootMFAMissing(),
		rootHardwareMFAMissing(),
		rootAccessKey(),
		rootRecentlyUsed(),
		passwordUnused(),
		accessKeyUnused(),
		accessKeyNotRotated(),
		accessKeysMultipleActive(),
		mfaNotEnforced(),
	}
}

// Select returns the registered rules whose ID maps to true in enabled, in registry order; a nil
// map selects every rule. An ID that is not registered is an error naming the valid ones.
func Select(enabled map[string]bool) ([]Rule, error) {
	all := Registry()
	if enabled == nil {
		return all, nil
	}
	known := make([]string, len(all))
	for i, r := range all {
		known[i] = r.ID
	}
	var unknown []string
	for id := range enabled {
		if !slices.Contains(known, id) {
			unknown = append(unknown, fmt.Sprintf("%q", id))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("%w %s (valid rules: %s)", ErrUnknownRule, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out []Rule
	for _, r := range all {
		if enabled[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}
