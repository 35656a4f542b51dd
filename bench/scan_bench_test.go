// Package bench measures a full live scan of large accounts in moto: API calls per operation,
// wall time and the peak resident memory of the iamwarden process.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// Targets.
const (
	callBudget = 40  // account-size-independent calls of a full scan
	rssBudget  = 100 // MiB of peak RSS at 10,000 users
	staleUsers = 25  // users with a stale key, each costing one ListAccessKeys to name the key
)

// perUserOps are the calls made only for users the report cannot decide alone.
var perUserOps = map[string]bool{"iam:GetLoginProfile": true, "iam:ListAccessKeys": true}

func BenchmarkLiveScan(b *testing.B) {
	bin := build(b)
	for _, users := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			srv, env := seed(b, users)
			var last result
			for b.Loop() {
				last = scan(b, bin, env)
			}
			fixed, perUser := 0, 0
			for op, n := range last.calls {
				if perUserOps[op] {
					perUser += n
				} else {
					fixed += n
				}
			}
			b.ReportMetric(float64(fixed), "calls")
			b.ReportMetric(float64(perUser), "per-user-calls")
			b.ReportMetric(last.wall.Seconds(), "wall-s")
			b.ReportMetric(last.rssMiB, "peak-rss-MiB")
			fmt.Printf("\n%d users (account %s): %d findings, wall %.2fs, peak RSS %.1f MiB\n",
				users, srv.AccountID, last.findings, last.wall.Seconds(), last.rssMiB)
			fmt.Printf("  API calls: %d account-wide (budget %d) + %d per-user for %d users with findings the report cannot name alone\n",
				fixed, callBudget, perUser, staleUsers)
			printCalls(last.calls)
			if fixed > callBudget {
				b.Errorf("%d account-wide calls, budget %d", fixed, callBudget)
			}
			if perUser > staleUsers {
				b.Errorf("%d per-user calls for %d users needing them", perUser, staleUsers)
			}
			if users >= 10000 && last.rssMiB > rssBudget {
				b.Errorf("peak RSS %.1f MiB, budget %d MiB", last.rssMiB, rssBudget)
			}
		})
	}
}

// build compiles the iamwarden binary once.
func build(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "iamwarden")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/iamwarden")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// seed fills an account with users: half with console passwords (set long ago), half with
// virtual MFA, one fresh access key each, and a few users with stale keys. It returns the
// environment of a process scanning the account with its own IAM user's credentials (moto maps
// an access key to the account that issued it).
func seed(b *testing.B, users int) (*mototest.Server, []string) {
	b.Helper()
	return account(b, func(srv *mototest.Server) {
		now := time.Now().UTC()
		srv.SeedUsers(mototest.SeedSpec{Count: users - staleUsers, PasswordEvery: 2, MFAEvery: 2, Keys: 1, Group: "staff",
			Created: now.AddDate(-2, 0, 0), PasswordSetAt: now.AddDate(-1, 0, 0), PasswordLastUsed: now.AddDate(0, 0, -3),
			KeyCreated: now.AddDate(0, 0, -30), KeyLastUsed: now.AddDate(0, 0, -1), KeyService: "s3", KeyRegion: "us-east-1"})
		srv.SeedUsers(mototest.SeedSpec{Prefix: "stale-", Count: staleUsers, MFAEvery: 1, Keys: 1,
			Created: now.AddDate(-2, 0, 0), KeyCreated: now.AddDate(0, 0, -200)})
	})
}

// account gives a fresh account the users fill creates (in group "staff"), the staff group's
// policies and a scanner user, and returns the environment of a process scanning it.
func account(b *testing.B, fill func(*mototest.Server)) (*mototest.Server, []string) {
	b.Helper()
	srv := mototest.Shared(b)
	fill(srv)

	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config(ctx))
	// The staff group grants AdministratorAccess and enforces MFA, so mfa-not-enforced evaluates
	// real policy sets for every user (and passes those with MFA-enforcing policies).
	if _, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("staff")}); err != nil {
		if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("staff")}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("staff"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("staff"), PolicyName: aws.String("EnforceMFA"),
		PolicyDocument: aws.String(enforceMFA)}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("iamwarden-scanner")}); err != nil {
		b.Fatal(err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("iamwarden-scanner")})
	if err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(),
		"AWS_ENDPOINT_URL="+srv.Endpoint,
		"AWS_ACCESS_KEY_ID="+aws.ToString(key.AccessKey.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY="+aws.ToString(key.AccessKey.SecretAccessKey),
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=")
	return srv, env
}

const enforceMFA = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny",
"NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice","sts:GetSessionToken","iam:ChangePassword"],
"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`

// printCalls prints the count of each API operation, by name.
func printCalls(calls map[string]int) {
	ops := make([]string, 0, len(calls))
	for op := range calls {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Printf("    %-40s %d\n", op, calls[op])
	}
}

type result struct {
	calls    map[string]int
	findings int
	wall     time.Duration
	rssMiB   float64
	stderr   string
}

// scan runs one full live scan in a child process and measures it.
func scan(b *testing.B, bin string, env []string) result {
	b.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "scan", "--stats", "--output", "json")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
		b.Fatalf("scan exit %d (%v), want 0 or 1\n%s", code, err, stderr.String())
	}
	var rep struct {
		Partial  bool              `json:"partial"`
		Calls    map[string]int    `json:"api_calls"`
		Findings []json.RawMessage `json:"findings"`
		Errors   []any             `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		b.Fatalf("report: %v\n%s", err, strings.TrimSpace(stderr.String()))
	}
	if rep.Partial {
		b.Fatalf("partial scan: %v", rep.Errors)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{calls: rep.Calls, findings: len(rep.Findings), wall: wall, rssMiB: float64(ru.Maxrss) / 1024, stderr: stderr.String()}
}
