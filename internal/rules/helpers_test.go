package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// asOf is the instant every test judges at unless it says otherwise.
var asOf = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// daysAgo is n days before asOf, to the second.
func daysAgo(n int) time.Time { return asOf.Add(-time.Duration(n) * day) }

func defaultEnv() rules.Env {
	return rules.Env{AsOf: asOf, Thresholds: rules.DefaultThresholds()}
}

// want is the part of a verdict a test pins. Detail is compared whole when it does not start with
// "~", else as a substring; Evidence, when set, must equal the verdict's evidence.
type want struct {
	Resource string
	State    rules.State
	Deadline time.Time
	Detail   string
	Evidence map[string]any
}

type ruleCase struct {
	name string
	env  func(*rules.Env)
	user inventory.User
	want []want
}

func lookup(t *testing.T, id string) rules.Rule {
	t.Helper()
	r, ok := rules.Lookup(id)
	if !ok {
		t.Fatalf("rule %q is not registered", id)
	}
	return r
}

// runCases checks each case's verdicts against its wants, in order.
func runCases(t *testing.T, id string, cases []ruleCase) {
	t.Helper()
	r := lookup(t, id)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := defaultEnv()
			if tc.env != nil {
				tc.env(&env)
			}
			u := tc.user
			if u.Name == "" {
				u.Name = "alice"
				if u.IsRoot {
					u.Name = inventory.RootName
				}
			}
			got := r.Check(env, &u)
			checkVerdicts(t, &u, got, tc.want)
		})
	}
}

func checkVerdicts(t *testing.T, u *inventory.User, got []rules.Verdict, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d verdicts, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Resource != w.Resource {
			t.Errorf("verdict %d: resource %q, want %q", i, g.Resource, w.Resource)
		}
		if g.State != w.State {
			t.Errorf("verdict %d: state %q, want %q", i, g.State, w.State)
		}
		if !g.Deadline.Equal(w.Deadline) {
			t.Errorf("verdict %d: deadline %v, want %v", i, g.Deadline, w.Deadline)
		}
		if sub, ok := strings.CutPrefix(w.Detail, "~"); ok {
			if !strings.Contains(g.Detail, sub) {
				t.Errorf("verdict %d: detail %q does not contain %q", i, g.Detail, sub)
			}
		} else if g.Detail != w.Detail {
			t.Errorf("verdict %d: detail\n got %q\nwant %q", i, g.Detail, w.Detail)
		}
		if w.Evidence != nil && !reflect.DeepEqual(g.Evidence, w.Evidence) {
			t.Errorf("verdict %d: evidence\n got %#v\nwant %#v", i, g.Evidence, w.Evidence)
		}
		if g.Detail != "" && strings.Contains(g.Detail, "AKIA") && !strings.Contains(g.Detail, "…") {
			t.Errorf("verdict %d: detail shows an unmasked key ID: %q", i, g.Detail)
		}
		checkKey(t, u, i, g)
	}
}

// checkKey verifies that a key verdict's Key is a copy of the key its Resource names.
func checkKey(t *testing.T, u *inventory.User, i int, g rules.Verdict) {
	t.Helper()
	if g.Key == nil {
		return
	}
	if g.Key.Ref() != g.Resource {
		t.Errorf("verdict %d: key %q does not match resource %q", i, g.Key.Ref(), g.Resource)
	}
	for j := range u.AccessKeys {
		if g.Key == &u.AccessKeys[j] {
			t.Errorf("verdict %d: key aliases the principal's key slice", i)
		}
	}
}

// key builds an access key in a slot, with an ID when id is not empty.
func key(slot int, id string, active bool, created, lastUsed time.Time) inventory.AccessKey {
	return inventory.AccessKey{Slot: slot, ID: id, Active: active, Created: created, LastUsed: lastUsed}
}

// keyVerdicts checks that each key verdict carries its own key: distinct pointers, right slot.
func keyVerdicts(t *testing.T, got []rules.Verdict) {
	t.Helper()
	seen := map[*inventory.AccessKey]bool{}
	for _, v := range got {
		if v.Key == nil {
			t.Fatalf("verdict for %q has no key", v.Resource)
		}
		if seen[v.Key] {
			t.Fatalf("two verdicts share one key pointer")
		}
		seen[v.Key] = true
	}
}
