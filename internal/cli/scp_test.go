package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
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
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/report"
)

// orgScenario is a member account of a moto organization, in an OU that has iamwarden's own
// enforce-mfa-scp attached next to FullAWSAccess, with an administrator who has an access key.
type orgScenario struct {
	member        *mototest.Server
	managementSrv *mototest.Server
	scpFiles      []string // the SCPs as files: FullAWSAccess, then enforce-mfa-scp
}

func newOrgScenario(t *testing.T) *orgScenario {
	t.Helper()
	ctx := context.Background()
	mgmt := mototest.Shared(t)
	org := organizations.NewFromConfig(mgmt.Config(ctx))
	ok := noErr(t)
	ok(org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}))
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	root := aws.ToString(roots.Roots[0].Id)
	acct, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("workloads"), Email: aws.String("workloads@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	memberID := aws.ToString(acct.CreateAccountStatus.AccountId)
	ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(root), Name: aws.String("Workloads")})
	if err != nil {
		t.Fatal(err)
	}
	ok(org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(memberID), SourceParentId: aws.String(root), DestinationParentId: ou.OrganizationalUnit.Id}))
	var buf bytes.Buffer
	if err := generate.Render(&buf, generate.KindEnforceMFASCP, generate.FormatJSON, generate.Options{}); err != nil {
		t.Fatal(err)
	}
	scp := buf.Bytes()
	pol, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("enforce-mfa"), Description: aws.String("iamwarden"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(string(scp))})
	if err != nil {
		t.Fatal(err)
	}
	ok(org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: pol.Policy.PolicySummary.Id, TargetId: ou.OrganizationalUnit.Id}))

	member := *mgmt
	member.AccountID = memberID
	c := iam.NewFromConfig(member.Config(ctx))
	ok(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")}))
	ok(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("admin"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	ok(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")}))

	dir := t.TempDir()
	full := filepath.Join(dir, "FullAWSAccess.json")
	enforce := filepath.Join(dir, "enforce-mfa.json")
	if err := os.WriteFile(full, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(enforce, scp, 0o600); err != nil {
		t.Fatal(err)
	}
	return &orgScenario{member: &member, managementSrv: mgmt, scpFiles: []string{full, enforce}}
}

// env scans the member account. delegated sends its Organizations calls as the management
// account (moto serves the organization there only), as a delegated administrator reads them;
// failOp answers one Organizations operation with the error failCode instead.
func (s *orgScenario) env(delegated bool, failOp, failCode string) cli.Env {
	return cli.Env{
		Now: time.Now,
		AWSConfig: func(ctx context.Context, _, _ string) (aws.Config, error) {
			cfg := s.member.Config(ctx)
			asMember := cfg.HTTPClient.(*http.Client).Transport
			asManagement := s.managementSrv.Config(ctx).HTTPClient.(*http.Client).Transport
			cfg.HTTPClient = &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
				op, isOrg := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSOrganizationsV20161128.")
				switch {
				case !isOrg:
					return asMember.RoundTrip(r)
				case op == failOp:
					body := fmt.Sprintf(`{"__type":"%s","message":"injected %s"}`, failCode, failCode)
					return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Errortype": {failCode}},
						Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
				case delegated:
					return asManagement.RoundTrip(r)
				}
				return asMember.RoundTrip(r)
			})}
			return cfg, nil
		},
	}
}

// mfaFindings returns the mfa-not-enforced findings of a JSON report.
func mfaFindings(t *testing.T, out string) (report.Result, []string) {
	t.Helper()
	r := decode(t, out)
	var details []string
	for _, f := range r.Findings {
		if f.Rule == "mfa-not-enforced" {
			details = append(details, f.Detail)
		}
	}
	return r, details
}

// A member account whose OU has iamwarden's enforce-mfa-scp: the scan reads the SCPs up to the
// root and finds MFA enforced; without them it says they were not evaluated.
func TestLiveScanEvaluatesSCPs(t *testing.T) {
	s := newOrgScenario(t)
	args := []string{"scan", "-o", "json", "--stats", "--rule", "mfa-not-enforced"}

	t.Run("read from the organization", func(t *testing.T) {
		code, out, stderr := run(t, s.env(true, "", ""), args...)
		r, details := mfaFindings(t, out)
		if code != report.ExitClean || len(details) != 0 || r.Partial || len(r.Warnings) != 0 {
			t.Fatalf("exit %d, findings %q, partial %v, warnings %+v; stderr %s", code, details, r.Partial, r.Warnings, stderr)
		}
		want := map[string]int{"organizations:DescribeOrganization": 1, "organizations:ListParents": 2,
			"organizations:ListPoliciesForTarget": 3, "organizations:DescribePolicy": 2}
		for op, n := range want {
			if r.Calls[op] != n {
				t.Errorf("%s called %d times, want %d (calls %v)", op, r.Calls[op], n, r.Calls)
			}
		}
	})
	t.Run("member account without access", func(t *testing.T) {
		code, out, stderr := run(t, s.env(true, "ListParents", "AccessDeniedException"), args...)
		r, details := mfaFindings(t, out)
		if code != report.ExitViolations || len(details) != 1 || r.Partial {
			t.Fatalf("exit %d, findings %q, partial %v; stderr %s", code, details, r.Partial, stderr)
		}
		if !strings.HasPrefix(details[0], "SCPs were not evaluated (organizations:ListParents: ") ||
			!strings.Contains(details[0], "without them, an access key without MFA is allowed iam:CreateUser by AdministratorAccess (statement 0)") {
			t.Errorf("detail %q", details[0])
		}
		if len(r.Warnings) != 1 || r.Warnings[0].Where != "organizations" || !strings.Contains(r.Warnings[0].Message, "SCPs not evaluated") {
			t.Errorf("warnings %+v", r.Warnings)
		}
	})
	t.Run("given with --scp", func(t *testing.T) {
		code, out, stderr := run(t, s.env(false, "DescribeOrganization", "AccessDeniedException"),
			append(args, "--scp", s.scpFiles[0], "--scp", strings.Join(s.scpFiles, ","))...)
		r, details := mfaFindings(t, out)
		if code != report.ExitClean || len(details) != 0 || len(r.Warnings) != 0 {
			t.Fatalf("exit %d, findings %q, warnings %+v; stderr %s", code, details, r.Warnings, stderr)
		}
		for op := range r.Calls {
			if strings.HasPrefix(op, "organizations:") {
				t.Errorf("SCPs given, yet %s called", op)
			}
		}
		// FullAWSAccess alone at every level: MFA is not enforced, and the finding says the SCPs
		// were evaluated.
		code, out, _ = run(t, s.env(false, "", ""), append(args, "--scp", s.scpFiles[0], "--scp", s.scpFiles[0])...)
		r, details = mfaFindings(t, out)
		if code != report.ExitViolations || len(details) != 1 || r.Findings[0].Evidence["scp_levels_evaluated"] != float64(2) {
			t.Errorf("exit %d, findings %+v", code, r.Findings)
		}
	})
	t.Run("recorded by export", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "export")
		if code, _, stderr := run(t, s.env(true, "", ""), "export", dir); code != 0 {
			t.Fatalf("export exit %d: %s", code, stderr)
		}
		asOf := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		code, out, stderr := run(t, cli.Env{}, "scan", "-o", "json", "--from", dir, "--as-of", asOf)
		_, details := mfaFindings(t, out)
		if code != report.ExitViolations || len(details) != 0 {
			t.Fatalf("exit %d, findings %q; stderr %s", code, details, stderr)
		}
		_, liveOut, _ := run(t, s.env(true, "", ""), "scan", "-o", "json", "--as-of", asOf)
		if a, b := withoutReadTimes(t, liveOut), withoutReadTimes(t, out); a != b {
			t.Errorf("offline result differs from live:\n%s", lineDiff(a, b))
		}
		// Refused live, recorded as not read: the export's scan says so as the live one did.
		if code, _, stderr := run(t, s.env(true, "ListPoliciesForTarget", "AccessDeniedException"), "export", dir); code != 0 {
			t.Fatalf("export exit %d: %s", code, stderr)
		}
		_, out, _ = run(t, cli.Env{}, "scan", "-o", "json", "--from", dir, "--as-of", asOf)
		_, liveOut, _ = run(t, s.env(true, "ListPoliciesForTarget", "AccessDeniedException"), "scan", "-o", "json", "--as-of", asOf)
		if _, details := mfaFindings(t, out); len(details) != 1 || !strings.HasPrefix(details[0], "SCPs were not evaluated (organizations:ListPoliciesForTarget") {
			t.Errorf("findings %q", details)
		}
		if a, b := withoutReadTimes(t, liveOut), withoutReadTimes(t, out); a != b {
			t.Errorf("offline result differs from live:\n%s", lineDiff(a, b))
		}
	})
}
