package inventory_test

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
)

// The demo account is documented (docs/export.md) to trigger every rule; these checks keep its
// data saying what the documentation promises.
func TestDemoAccount(t *testing.T) {
	raw, err := inventory.ReadExport(filepath.Join("..", "..", "examples", "demo-account"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := inventory.Assemble(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.Partial() {
		t.Fatalf("problems: %+v", s.Problems)
	}
	readAt := ts("2026-11-20T09:00:00Z")
	if s.AccountID != "123456789012" || s.AccountAlias != "acme-prod" || !s.ReadAt.Equal(readAt) {
		t.Errorf("account %q alias %q read at %v", s.AccountID, s.AccountAlias, s.ReadAt)
	}
	if len(s.Users) != 30 {
		t.Errorf("%d users, want 30", len(s.Users))
	}
	if s.Root == nil || !s.Root.IsRoot {
		t.Fatal("no root")
	}
	userID := regexp.MustCompile(`^AIDA[A-Z0-9]{17}$`)
	for _, u := range s.Users {
		if u.Incomplete || !userID.MatchString(u.ID) {
			t.Errorf("%s: incomplete %v, ID %q", u.Name, u.Incomplete, u.ID)
		}
	}

	day := 24 * time.Hour
	age := func(t time.Time) time.Duration { return readAt.Sub(t) }
	activeKeys := func(u *inventory.User) (out []inventory.AccessKey) {
		for _, k := range u.AccessKeys {
			if k.Active {
				out = append(out, k)
			}
		}
		return out
	}
	tests := []struct {
		user string
		what string
		ok   func(u *inventory.User) bool
	}{
		{inventory.RootName, "used within a day, virtual MFA only, an active key", func(u *inventory.User) bool {
			return age(u.Password.LastUsed) < day && u.MFA.HasVirtual() && !u.MFA.HasNonVirtual() && len(activeKeys(u)) == 1
		}},
		{"emil.johansson", "console password set over 24h ago, no MFA", func(u *inventory.User) bool {
			return u.Password.Enabled && !u.MFA.Active && age(u.Password.SetAt()) > day
		}},
		{"fatima.rahman", "console password set 6h ago, no MFA", func(u *inventory.User) bool {
			return u.Password.Enabled && !u.MFA.Active && age(u.Password.SetAt()) == 6*time.Hour
		}},
		{"chen.wei", "password last used 120 days ago", func(u *inventory.User) bool {
			return u.Password.Enabled && age(u.Password.LastUsed) > 120*day && age(u.Password.LastUsed) < 121*day
		}},
		{"gustavo.silva", "password never used, set 200 days ago", func(u *inventory.User) bool {
			return u.Password.Enabled && u.Password.LastUsed.IsZero() && age(u.Password.LastChanged) > 200*day
		}},
		{"hana.sato", "active key last used 100 days ago", func(u *inventory.User) bool {
			k := activeKeys(u)
			return len(k) == 1 && age(k[0].LastUsed) > 100*day && age(k[0].LastUsed) < 101*day
		}},
		{"lena.fischer", "active key never used, created 95 days ago", func(u *inventory.User) bool {
			k := activeKeys(u)
			return len(k) == 1 && k[0].LastUsed.IsZero() && age(k[0].Created) > 95*day && age(k[0].Created) < 96*day
		}},
		{"kofi.mensah", "a stale inactive key and a fresh active one", func(u *inventory.User) bool {
			k := activeKeys(u)
			return len(u.AccessKeys) == 2 && !u.AccessKeys[0].Active && age(u.AccessKeys[0].LastUsed) > 90*day &&
				len(k) == 1 && age(k[0].Created) < 90*day && age(k[0].LastUsed) < 90*day
		}},
		{"ivan.petrov", "active key created 400 days ago, used yesterday", func(u *inventory.User) bool {
			k := activeKeys(u)
			return len(k) == 1 && age(k[0].Created) > 400*day && age(k[0].LastUsed) < day
		}},
		{"julia.becker", "two active keys", func(u *inventory.User) bool { return len(activeKeys(u)) == 2 }},
		{"terraform-ci", "key-only, two active keys", func(u *inventory.User) bool {
			return !u.Password.Enabled && !u.MFA.Active && len(activeKeys(u)) == 2
		}},
		{"bruno.costa", "hardware MFA", func(u *inventory.User) bool { return u.MFA.HasNonVirtual() && !u.MFA.HasVirtual() }},
		{"breakglass-admin", "an exemption until 2027-06-30", func(u *inventory.User) bool {
			return u.Tags["iamwarden:exempt-until"] == "2027-06-30" &&
				u.Tags["iamwarden:exempt-rules"] == "console-mfa-missing user-mfa-missing password-unused" &&
				u.Tags["iamwarden:exempt-reason"] != "" && !u.MFA.Active
		}},
		{"legacy-reporting", "an expired exemption", func(u *inventory.User) bool {
			return u.Tags["iamwarden:exempt-until"] == "2026-01-31" && u.Tags["iamwarden:exempt-reason"] != ""
		}},
		{"alice.nakamura", "an administrator with virtual MFA", func(u *inventory.User) bool {
			return len(u.Groups) == 1 && u.Groups[0] == "Admins" && u.MFA.HasVirtual()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			var u *inventory.User
			for _, p := range s.Principals() {
				if p.Name == tt.user {
					u = p
				}
			}
			if u == nil {
				t.Fatalf("no user %s", tt.user)
			}
			if !tt.ok(u) {
				t.Errorf("%s: want %s; got %+v", tt.user, tt.what, u)
			}
		})
	}
	if got := s.Policies["arn:aws:iam::aws:policy/AdministratorAccess"].Document; got != `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}` {
		t.Errorf("AdministratorAccess document %q", got)
	}
	if g := s.Groups["Developers"]; len(g.InlinePolicies) != 1 || g.InlinePolicies[0].Name != "EnforceMFA" {
		t.Errorf("Developers group %+v", g)
	}
}
