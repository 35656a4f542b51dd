package rules_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// registryOrder is the documented report order.
var registryOrder = []string{
	"console-mfa-missing",
	"user-mfa-missing",
	"root-mfa-missing",
	"root-hardware-mfa-missing",
	"root-access-key",
	"root-recently-used",
	"password-unused",
	"access-key-unused",
	"access-key-not-rotated",
	"access-keys-multiple-active",
	"mfa-not-enforced",
}

func TestRegistry(t *testing.T) {
	reg := rules.Registry()
	var ids []string
	for _, r := range reg {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, registryOrder) {
		t.Fatalf("registry order\n got %v\nwant %v", ids, registryOrder)
	}
	index, err := os.ReadFile("../../docs/rules/README.md")
	if err != nil {
		t.Fatalf("rules index: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range reg {
		t.Run(r.ID, func(t *testing.T) {
			if seen[r.ID] {
				t.Fatalf("duplicate rule ID")
			}
			seen[r.ID] = true
			if r.Title == "" || r.Check == nil {
				t.Errorf("title %q, check set %v", r.Title, r.Check != nil)
			}
			switch r.Severity {
			case rules.SeverityCritical, rules.SeverityHigh, rules.SeverityMedium, rules.SeverityLow:
			default:
				t.Errorf("severity %q", r.Severity)
			}
			if len(r.Controls) == 0 {
				t.Errorf("no AWS controls")
			}
			if r.Root != strings.HasPrefix(r.ID, "root-") {
				t.Errorf("Root = %v for %s", r.Root, r.ID)
			}
			if want := "docs/rules/" + r.ID + ".md"; r.Doc != want {
				t.Errorf("doc %q, want %q", r.Doc, want)
			}
			page, err := os.ReadFile("../../" + r.Doc)
			if err != nil {
				t.Fatalf("doc page: %v", err)
			}
			for _, c := range r.Controls {
				if !strings.Contains(string(page), c[strings.LastIndex(c, " ")+1:]) {
					t.Errorf("doc page does not mention control %q", c)
				}
			}
			if !strings.Contains(string(index), "("+r.ID+".md)") {
				t.Errorf("docs/rules/README.md does not link %s.md", r.ID)
			}
			base := strings.ReplaceAll(r.ID, "-", "_")
			for _, f := range []string{base + ".go", base + "_test.go"} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("rule file: %v", err)
				}
			}
		})
	}
}

func TestRegistryReturnsFreshSlices(t *testing.T) {
	a := rules.Registry()
	a[0].Controls[0] = "changed"
	a[1] = rules.Rule{}
	b := rules.Registry()
	if b[0].Controls[0] == "changed" || b[1].ID == "" {
		t.Fatal("changing one registry result changed the next")
	}
}

func TestSelect(t *testing.T) {
	all, err := rules.Select(nil)
	if err != nil || len(all) != len(registryOrder) {
		t.Fatalf("Select(nil) = %d rules, %v; want all %d", len(all), err, len(registryOrder))
	}

	got, err := rules.Select(map[string]bool{"access-key-unused": true, "root-mfa-missing": true, "password-unused": false})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if want := []string{"root-mfa-missing", "access-key-unused"}; !slices.Equal(ids, want) {
		t.Fatalf("selected %v, want %v (registry order, disabled left out)", ids, want)
	}

	none, err := rules.Select(map[string]bool{})
	if err != nil || len(none) != 0 {
		t.Fatalf("Select(empty) = %d rules, %v; want none", len(none), err)
	}

	_, err = rules.Select(map[string]bool{"root-mfa": true, "access-key-unused": true, "mfa": false})
	if !errors.Is(err, rules.ErrUnknownRule) {
		t.Fatalf("error %v, want ErrUnknownRule", err)
	}
	for _, s := range []string{`"mfa"`, `"root-mfa"`, "console-mfa-missing", "access-keys-multiple-active"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

// TestEvaluateJudgesRootAndUsersApart runs the whole registry through Evaluate: root rules see
// only root and user rules only users, even when both carry the same problems.
func TestEvaluateJudgesRootAndUsersApart(t *testing.T) {
	problems := func(name string, root bool) *inventory.User {
		return &inventory.User{
			Name:     name,
			IsRoot:   root,
			Password: inventory.Password{Enabled: true, LastChanged: daysAgo(400), LastUsed: asOf.Add(-1)},
			AccessKeys: []inventory.AccessKey{
				key(1, "", true, daysAgo(400), daysAgo(200)),
				key(2, "", true, daysAgo(300), daysAgo(1)),
			},
		}
	}
	ruleSet := func(fs []rules.Finding) []string {
		var out []string
		for _, f := range fs {
			if !slices.Contains(out, f.Rule) {
				out = append(out, f.Rule)
			}
		}
		return out
	}
	reg := rules.Registry()
	root := rules.Evaluate(defaultEnv(), "123456789012", problems(inventory.RootName, true), reg, nil)
	if got, want := ruleSet(root), []string{"root-mfa-missing", "root-access-key", "root-recently-used"}; !slices.Equal(got, want) {
		t.Errorf("root rules %v, want %v", got, want)
	}
	user := rules.Evaluate(defaultEnv(), "123456789012", problems("alice", false), reg, nil)
	if got, want := ruleSet(user), []string{"console-mfa-missing", "user-mfa-missing", "access-key-unused", "access-key-not-rotated", "access-keys-multiple-active"}; !slices.Equal(got, want) {
		t.Errorf("user rules %v, want %v", got, want)
	}
	for _, f := range user {
		if f.Rule == "access-key-unused" && f.ID != "123456789012/access-key-unused/alice/access_key_1" {
			t.Errorf("finding ID %q", f.ID)
		}
	}
}
