package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamwarden/iamwarden/internal/cli"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/report"
)

// fleetScenario is an organization in moto: the management account (the caller), prod and dev in
// an OU, sandbox under the root. prod and sandbox have the member roles; dev has none.
type fleetScenario struct {
	t                      *testing.T
	mgmt                   *mototest.Server
	base                   func(context.Context, string, string) (aws.Config, error)
	prod, dev, sandbox, ou string
}

const externalID = "iamwarden-test-external-id"

func newFleetScenario(t *testing.T) *fleetScenario {
	t.Helper()
	ctx := context.Background()
	mgmt := mototest.Shared(t)
	oc := organizations.NewFromConfig(mgmt.Config(ctx))
	ok := noErr(t)
	ok(oc.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}))
	roots, err := oc.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	ou, err := oc.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: roots.Roots[0].Id, Name: aws.String("workloads")})
	if err != nil {
		t.Fatal(err)
	}
	s := &fleetScenario{t: t, mgmt: mgmt, ou: aws.ToString(ou.OrganizationalUnit.Id)}
	account := func(name string, inOU bool) string {
		out, err := oc.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		if inOU {
			ok(oc.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(id), SourceParentId: roots.Roots[0].Id, DestinationParentId: ou.OrganizationalUnit.Id}))
		}
		return id
	}
	s.prod, s.dev, s.sandbox = account("prod", true), account("dev", true), account("sandbox", false)
	base := mgmt.UserConfig(ctx, "security-admin")
	s.base = func(context.Context, string, string) (aws.Config, error) { return base.Copy(), nil }
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + mgmt.AccountID +
		`:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + externalID + `"}}}]}`
	for _, id := range []string{s.prod, s.sandbox} {
		c := iam.NewFromConfig(mgmt.Account(id).Config(ctx))
		for _, role := range []string{"iamwarden-audit", "iamwarden-enforce"} {
			ok(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)}))
		}
	}
	now := time.Now().UTC()
	prod := mgmt.Account(s.prod)
	prod.ConsoleUser(iam.NewFromConfig(prod.Config(ctx)), "alice", now.Add(-30*24*time.Hour))
	sandbox := mgmt.Account(s.sandbox)
	sandbox.ConsoleUser(iam.NewFromConfig(sandbox.Config(ctx)), "bob", now.Add(-30*24*time.Hour))
	return s
}

func (s *fleetScenario) env() cli.Env { return cli.Env{Now: time.Now, AWSConfig: s.base} }

type orgDoc struct {
	Accounts []report.AccountResult `json:"accounts"`
	Totals   report.Totals          `json:"totals"`
}

func decodeOrg(t *testing.T, out string) orgDoc {
	t.Helper()
	var d orgDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not an organization document: %v\n%s", err, out)
	}
	return d
}

func TestScanOrganization(t *testing.T) {
	s := newFleetScenario(t)
	code, out, stderr := run(t, s.env(), "scan", "--org", "--external-id", externalID, "-o", "json")
	if code != report.ExitPartial {
		t.Fatalf("exit %d, want %d (an account failed); stderr %s", code, report.ExitPartial, stderr)
	}
	d := decodeOrg(t, out)
	got := map[string]report.AccountResult{}
	for _, a := range d.Accounts {
		got[a.AccountID] = a
	}
	if len(got) != 4 || d.Totals.Accounts != 4 || d.Totals.Failed != 1 {
		t.Fatalf("accounts %v, totals %+v; want the management account, prod, dev and sandbox with dev failed", keys(got), d.Totals)
	}
	if a := got[s.dev]; a.Status != report.AccountFailed || !strings.Contains(a.Error, s.dev) || !strings.Contains(a.Error, "iamwarden-audit") {
		t.Errorf("dev: %+v; want failed, naming the account and the role", a)
	}
	if a := got[s.prod]; a.Status != report.AccountOK || !hasFinding(a.Result, "console-mfa-missing", "alice") {
		t.Errorf("prod: %+v; want alice's console-mfa-missing, read in prod", a)
	}
	if a := got[s.sandbox]; a.Status != report.AccountOK || !hasFinding(a.Result, "console-mfa-missing", "bob") || hasFinding(a.Result, "console-mfa-missing", "alice") {
		t.Errorf("sandbox: %+v; want bob only", a)
	}
	if a := got[s.mgmt.AccountID]; a.Status != report.AccountOK || a.Result.AccountID != s.mgmt.AccountID {
		t.Errorf("management account: %+v; want it read with the caller's own credentials", a)
	}

	// An OU's subtree only; without the ExternalId the roles refuse.
	_, out, _ = run(t, s.env(), "scan", "--org", "--ou", s.ou, "--external-id", externalID, "-o", "json")
	if d := decodeOrg(t, out); d.Totals.Accounts != 2 {
		t.Errorf("--ou %s: %d accounts, want prod and dev", s.ou, d.Totals.Accounts)
	}
	_, out, _ = run(t, s.env(), "scan", "--org", "--accounts", s.prod, "-o", "json")
	if d := decodeOrg(t, out); d.Totals.Failed != 1 {
		t.Errorf("without the ExternalId: %+v; want prod refused", d.Totals)
	}
	code, out, _ = run(t, s.env(), "scan", "--org", "--accounts", s.sandbox, "--external-id", externalID, "-o", "table")
	if code != report.ExitViolations || !strings.Contains(out, "ACCOUNT") || !strings.Contains(out, s.sandbox+"  violation") {
		t.Errorf("table (exit %d):\n%s", code, out)
	}
}

func TestEnforceOrganization(t *testing.T) {
	s := newFleetScenario(t)
	journal := "--journal=" + t.TempDir() + "/journal.db"
	args := []string{"enforce", "--org", "--exclude-accounts", s.mgmt.AccountID, "--external-id", externalID, journal, "-o", "json"}

	code, out, stderr := run(t, s.env(), append(args, "--apply", "--yes", "--max-actions-total", "1")...)
	if code != 2 || !strings.Contains(out+stderr, "total blast-radius limit") {
		t.Fatalf("two changes over a total limit of 1: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, s.env(), append(args, "--apply", "--yes")...)
	if code != 4 {
		t.Fatalf("exit %d, want 4 (dev failed); stderr %s\n%s", code, stderr, out)
	}
	var doc struct {
		Accounts []struct {
			AccountID string `json:"account_id"`
			Status    string `json:"status"`
			Outcome   *struct {
				Results []struct {
					Status string `json:"status"`
					Action struct {
						Principal string `json:"principal"`
					} `json:"action"`
				} `json:"results"`
			} `json:"outcome"`
		} `json:"accounts"`
		Totals struct {
			Done   int `json:"done"`
			Failed int `json:"failed_accounts"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Totals.Done != 2 || doc.Totals.Failed != 1 {
		t.Fatalf("totals %+v; want alice's and bob's console access disabled and dev failed\n%s", doc.Totals, out)
	}
	for _, id := range []string{s.prod, s.sandbox} {
		c := iam.NewFromConfig(s.mgmt.Account(id).Config(context.Background()))
		users, err := c.ListUsers(context.Background(), &iam.ListUsersInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users.Users {
			if _, err := c.GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: u.UserName}); err == nil {
				t.Errorf("account %s: %s still has console access", id, aws.ToString(u.UserName))
			}
		}
	}
	_, out, _ = run(t, s.env(), append(args, "--apply", "--yes")...)
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Totals.Done != 0 {
		t.Errorf("second run: %+v, %v; want nothing more", doc.Totals, err)
	}
}

func hasFinding(r *report.Result, rule, user string) bool {
	if r == nil {
		return false
	}
	for _, f := range r.Findings {
		if f.Rule == rule && f.Principal == user {
			return true
		}
	}
	return false
}

func keys(m map[string]report.AccountResult) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestExportOrganization(t *testing.T) {
	s := newFleetScenario(t)
	dir := t.TempDir()
	code, out, stderr := run(t, s.env(), "export", "--org", "--external-id", externalID, dir)
	if code != report.ExitPartial || !strings.Contains(stderr, "failed: account "+s.dev) || !strings.Contains(out, "4 accounts: 3 exported, 0 partial, 1 failed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	_, out, _ = run(t, cli.Env{}, "scan", "--from", dir+"/"+s.prod, "-o", "json")
	if r := decode(t, out); r.AccountID != s.prod || !hasFinding(&r, "console-mfa-missing", "alice") {
		t.Errorf("offline scan of prod's export: account %s, findings %d", r.AccountID, len(r.Findings))
	}
}

// On a terminal, enforce --org --apply asks for the number of accounts that would change.
func TestEnforceOrganizationTypedConfirmation(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("IAMWARDEN_REQUIRE_MOTO") != "" {
			t.Fatal("script(1) (Debian package bsdutils) is needed to give the CLI a terminal")
		}
		t.Skip("script(1) is not installed")
	}
	s := newFleetScenario(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "iamwarden")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/iamwarden").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	base, _ := s.base(ctx, "", "")
	creds, err := base.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "journal.db")
	apply := func(typed string) (int, string) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "script", "-q", "-e", "-c", bin+" enforce --org --apply --external-id "+externalID+
			" --accounts "+s.prod+","+s.sandbox+" --output json --journal "+db, "/dev/null")
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+s.mgmt.Endpoint, "AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=")
		cmd.Stdin = strings.NewReader(typed + "\n")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	hasConsole := func(account, user string) bool {
		c := iam.NewFromConfig(s.mgmt.Account(account).Config(ctx))
		_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
		return err == nil
	}
	code, out := apply("1")
	if code != 2 || !strings.Contains(out, "2 changes in 2 accounts") || !strings.Contains(out, "did not match") {
		t.Fatalf("wrong number typed: exit %d\n%s", code, out)
	}
	if !hasConsole(s.prod, "alice") || !hasConsole(s.sandbox, "bob") {
		t.Fatal("the organization changed without confirmation")
	}
	if code, out = apply("2"); code != 0 || hasConsole(s.prod, "alice") || hasConsole(s.sandbox, "bob") {
		t.Fatalf("number typed: exit %d\n%s", code, out)
	}
}
