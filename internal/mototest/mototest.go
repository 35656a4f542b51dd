// Package mototest runs moto's AWS server for wire-level tests, with test endpoints moto lacks:
// aging users, passwords and access keys, bulk seeding, a root row in the credential report, a
// credential report that takes time to generate, GetAccountAuthorizationDetails paginated as
// AWS does, and AWS Config's PutEvaluations outside test mode, its evaluations recorded for
// ConfigEvaluations to read. AWS itself is never contacted.
//
// Shared starts one server per test binary and gives every caller its own AWS account, so tests
// are isolated without resetting the server; Start runs a dedicated server for one test.
//
// The server is server.py run by Python 3, which must import moto 5.2.1 and its server extras
// (pip install 'moto[server]==5.2.1'); the moto_server command is not used. The interpreter is
// python3 on PATH unless IAMWARDEN_MOTO_PYTHON names another. Without it the tests that need it
// fail saying what to install, or are skipped when IAMWARDEN_SKIP_MOTO=1 is set, except under
// CI or IAMWARDEN_REQUIRE_MOTO=1.
package mototest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

//go:embed server.py
var script []byte

// Region is the region of every Config.
const Region = "us-east-1"

// AccessKeyID and SecretAccessKey are the static credentials of every Config. moto does not
// check them; the account is chosen with the x-moto-account-id header instead.
const (
	AccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// accountHeader makes moto serve a request from the named account.
const accountHeader = "x-moto-account-id"

// startTimeout bounds how long the server may take to start.
const startTimeout = 60 * time.Second

// Server is a handle on a running moto server, bound to one account.
type Server struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	// AccountID is the 12-digit account the handle's Config and helpers act on.
	AccountID string

	t    testing.TB
	proc *process
}

// Install is how to get what the server needs.
const Install = "pip install 'moto[server]==5.2.1'"

// SkipEnv, set to 1, skips the tests that need the server when Python or moto is missing.
const SkipEnv = "IAMWARDEN_SKIP_MOTO"

// missingError is a machine without the interpreter or without moto.
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

var (
	shared     *process
	sharedErr  error
	sharedOnce sync.Once
	accounts   atomic.Int64
)

// Shared returns a handle on the test binary's moto server, starting it on first use, bound to
// a fresh account nobody else uses. The server lives until the test binary exits.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = startProcess() })
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return &Server{Endpoint: shared.endpoint, AccountID: newAccountID(), t: t, proc: shared}
}

// Start runs a dedicated moto server for t, stopped when t ends, bound to a fresh account.
func Start(t testing.TB) *Server {
	t.Helper()
	p, err := startProcess()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(p.stop)
	return &Server{Endpoint: p.endpoint, AccountID: newAccountID(), t: t, proc: p}
}

// newAccountID hands out distinct 12-digit account IDs, never moto's default 123456789012.
func newAccountID() string {
	return fmt.Sprintf("%012d", 200000000000+accounts.Add(1))
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	var missing *missingError
	if !errors.As(err, &missing) {
		t.Fatalf("mototest: %v", err)
	}
	required := os.Getenv("CI") != "" || os.Getenv("IAMWARDEN_REQUIRE_MOTO") == "1"
	if os.Getenv(SkipEnv) == "1" && !required {
		t.Skipf("mototest: %v (skipped: %s=1)", err, SkipEnv)
	}
	if required {
		t.Fatalf("mototest: %v: %s (CI or IAMWARDEN_REQUIRE_MOTO=1 is set: the tests that need it cannot be skipped)", err, Install)
	}
	t.Fatalf("mototest: %v: %s, or set %s=1 to skip the tests that need it", err, Install, SkipEnv)
}

// process is one running server.
type process struct {
	endpoint string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *syncBuffer
	done     chan struct{}
	stopOnce sync.Once
}

func startProcess() (*process, error) {
	python := os.Getenv("IAMWARDEN_MOTO_PYTHON")
	if python == "" {
		python = "python3"
	}
	path, err := exec.LookPath(python)
	if err != nil {
		return nil, &missingError{fmt.Sprintf("Python interpreter %s not found (set IAMWARDEN_MOTO_PYTHON to another)", python)}
	}
	dir, err := os.MkdirTemp("", "mototest")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "server.py")
	if err := os.WriteFile(file, script, 0o600); err != nil {
		return nil, fmt.Errorf("write server script: %w", err)
	}

	cmd := exec.Command(path, file)
	cmd.Env = serverEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, stdin: stdin, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}

	// The first line says where the server listens, or what it could not import. Wait runs
	// after stdout is read to its end, as os/exec requires, so that line is never lost.
	lines := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-read
		_ = cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	first := func(line string) error {
		switch {
		case strings.HasPrefix(line, "PORT "):
			p.endpoint = "http://127.0.0.1:" + strings.TrimSpace(strings.TrimPrefix(line, "PORT "))
		case strings.HasPrefix(line, "MOTO_MISSING"):
			p.stop()
			return &missingError{fmt.Sprintf("%s cannot import moto (%s)", python, strings.TrimSpace(strings.TrimPrefix(line, "MOTO_MISSING")))}
		}
		return nil
	}
	for p.endpoint == "" {
		select {
		case line := <-lines:
			if err := first(line); err != nil {
				return nil, err
			}
		case <-p.done:
			select {
			case line := <-lines:
				if err := first(line); err != nil {
					return nil, err
				}
			default:
			}
			return nil, fmt.Errorf("moto server exited before listening: %s", p.stderr.String())
		case <-timer.C:
			p.stop()
			return nil, fmt.Errorf("moto server did not start within %s: %s", startTimeout, p.stderr.String())
		}
	}
	if err := p.waitReady(timer.C); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// serverEnv is the environment without settings that would change moto's behaviour.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MOTO_") || strings.HasPrefix(name, "AWS_") || name == "TEST_SERVER_MODE" {
			continue
		}
		env = append(env, kv)
	}
	// AWS managed policies exist in every account, as in AWS (moto leaves them out by default).
	return append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
}

// waitReady polls the health endpoint until it answers or the deadline fires.
func (p *process) waitReady(deadline <-chan time.Time) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(p.endpoint + "/_iamwarden/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-tick.C:
		case <-p.done:
			return fmt.Errorf("moto server exited: %s", p.stderr.String())
		case <-deadline:
			return fmt.Errorf("moto server at %s not ready within %s: %v", p.endpoint, startTimeout, err)
		}
	}
}

// stop closes the server's stdin, which makes it exit, and kills it if it does not.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		_ = p.stdin.Close()
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// Config is an SDK configuration that talks to the server as the handle's account: static
// credentials, region us-east-1, BaseEndpoint set to the server. ctx is unused but keeps the
// signature of the SDK's loaders.
func (s *Server) Config(ctx context.Context) aws.Config {
	_ = ctx
	cfg := aws.NewConfig()
	cfg.Region = Region
	cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""))
	cfg.BaseEndpoint = aws.String(s.Endpoint)
	cfg.HTTPClient = &http.Client{Transport: accountTransport{account: s.AccountID, next: http.DefaultTransport}}
	return *cfg
}

// accountTransport adds the account header to every request.
type accountTransport struct {
	account string
	next    http.RoundTripper
}

func (a accountTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(accountHeader, a.account)
	return a.next.RoundTrip(r)
}

// Reset wipes every account of the server (moto's /moto-api/reset). Handles from Shared do not
// need it: each has its own account.
func (s *Server) Reset() {
	s.t.Helper()
	resp, err := http.Post(s.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		s.t.Fatalf("mototest: reset: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("mototest: reset: %s", resp.Status)
	}
}

// call posts body (plus the account) to a test endpoint and decodes the answer into out.
func (s *Server) call(op string, body map[string]any, out any) {
	s.t.Helper()
	body["account"] = s.AccountID
	b, err := json.Marshal(body)
	if err != nil {
		s.t.Fatalf("mototest: %s: %v", op, err)
	}
	resp, err := http.Post(s.Endpoint+"/_iamwarden/"+op, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatalf("mototest: %s: %v", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("mototest: %s: %v", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("mototest: %s: %s: %s", op, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("mototest: %s: decode %q: %v", op, data, err)
		}
	}
}

// stamp formats t for the server; the zero time is sent as "" (unset / never).
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// BackdateUser sets the user's creation time.
func (s *Server) BackdateUser(user string, created time.Time) {
	s.t.Helper()
	s.call("backdate-user", map[string]any{"user": user, "created": stamp(created)}, nil)
}

// SetPassword gives the user a console password (creating the login profile when missing) set
// at setAt and last used at lastUsed (zero: never). The credential report's
// password_last_changed and GetLoginProfile's CreateDate then both say setAt.
func (s *Server) SetPassword(user string, setAt, lastUsed time.Time) {
	s.t.Helper()
	s.call("password", map[string]any{"user": user, "set_at": stamp(setAt), "last_used": stamp(lastUsed)}, nil)
}

// SetPasswordProfile is SetPassword with a login profile created before the password was last
// changed (a password reset after creation): GetLoginProfile says profileCreated, the
// credential report says setAt.
func (s *Server) SetPasswordProfile(user string, profileCreated, setAt, lastUsed time.Time) {
	s.t.Helper()
	s.call("password", map[string]any{"user": user, "profile_created": stamp(profileCreated), "set_at": stamp(setAt), "last_used": stamp(lastUsed)}, nil)
}

// SetAccessKey sets the creation time (unless zero) and last use (zero: never) of the user's key
// keyID (empty: the user's first key). GetAccessKeyLastUsed and the credential report agree.
// It returns the key's ID.
func (s *Server) SetAccessKey(user, keyID string, created, lastUsed time.Time, service, region string) string {
	s.t.Helper()
	var out struct {
		KeyID string `json:"key_id"`
	}
	s.call("access-key", map[string]any{
		"user": user, "key_id": keyID, "created": stamp(created),
		"last_used": stamp(lastUsed), "service": service, "region": region,
	}, &out)
	return out.KeyID
}

// SeedSpec describes users created in bulk, named Prefix followed by the zero-padded index.
type SeedSpec struct {
	Prefix string // default "user-"
	Start  int    // first index
	Count  int
	Width  int    // digits of the index, default 5
	Path   string // default "/"
	Tags   map[string]string
	Group  string // created when missing; every user joins it

	Created time.Time // zero: now

	// PasswordEvery gives every n-th user (n = 1: all, 0: none) a console password, set at
	// PasswordSetAt (zero: the user's creation) and last used at PasswordLastUsed (zero: never).
	PasswordEvery    int
	PasswordSetAt    time.Time
	PasswordLastUsed time.Time

	// Keys is how many access keys (0-2) each user gets, created at KeyCreated (zero: now) and
	// last used at KeyLastUsed (zero: never) by KeyService in KeyRegion.
	Keys        int
	KeyCreated  time.Time
	KeyLastUsed time.Time
	KeyService  string
	KeyRegion   string

	// MFAEvery gives every n-th user (n = 1: all, 0: none) an assigned virtual MFA device named
	// after the user.
	MFAEvery int
}

// Name is the name of the i-th seeded user (i counts from Start).
func (s SeedSpec) Name(i int) string {
	prefix, width := s.Prefix, s.Width
	if prefix == "" {
		prefix = "user-"
	}
	if width == 0 {
		width = 5
	}
	return fmt.Sprintf("%s%0*d", prefix, width, i)
}

// SeedUsers creates users in bulk inside the server, far faster than through the API.
func (s *Server) SeedUsers(spec SeedSpec) {
	s.t.Helper()
	var out struct {
		Users int `json:"users"`
	}
	s.call("seed", map[string]any{
		"prefix": spec.Prefix, "start": spec.Start, "count": spec.Count, "width": spec.Width,
		"path": spec.Path, "tags": spec.Tags, "group": spec.Group, "created": stamp(spec.Created),
		"password_every": spec.PasswordEvery, "password_set_at": stamp(spec.PasswordSetAt),
		"password_last_used": stamp(spec.PasswordLastUsed),
		"keys":               spec.Keys, "key_created": stamp(spec.KeyCreated),
		"key_last_used": stamp(spec.KeyLastUsed), "key_service": spec.KeyService,
		"key_region": spec.KeyRegion, "mfa_every": spec.MFAEvery,
	}, &out)
	if out.Users != spec.Count {
		s.t.Fatalf("mototest: seeded %d users, want %d", out.Users, spec.Count)
	}
}

// RootSpec is the root user's row of the credential report.
type RootSpec struct {
	Created          time.Time // zero: now
	PasswordLastUsed time.Time // zero: no_information
	MFA              bool
	Keys             []RootKey // at most two
}

// RootKey is one root access key.
type RootKey struct {
	Active   bool
	Rotated  time.Time
	LastUsed time.Time // zero: never
	Service  string
	Region   string
}

// SetRoot makes the credential report start with a <root_account> row as described.
func (s *Server) SetRoot(spec RootSpec) {
	s.t.Helper()
	keys := make([]map[string]any, 0, len(spec.Keys))
	for _, k := range spec.Keys {
		keys = append(keys, map[string]any{
			"active": k.Active, "rotated": stamp(k.Rotated), "last_used": stamp(k.LastUsed),
			"service": k.Service, "region": k.Region,
		})
	}
	s.call("root", map[string]any{
		"created": stamp(spec.Created), "password_last_used": stamp(spec.PasswordLastUsed),
		"mfa": spec.MFA, "keys": keys,
	}, nil)
}

// ReportSpec configures how the account's credential report is generated.
type ReportSpec struct {
	// Polls is how many GenerateCredentialReport calls after the one answering STARTED it takes
	// to finish a report: the last of them answers COMPLETE, those before INPROGRESS, and until
	// then GetCredentialReport answers ReportInProgress. Zero finishes the report at once.
	Polls int
	// Expired makes the next GetCredentialReport answer ReportExpired and drop the report, as
	// when a report ages out between generation and reading; the next generation starts anew.
	Expired bool
	// Discard forgets the current report: GetCredentialReport answers ReportNotPresent.
	Discard bool
}

// SetReport configures the account's credential report generation.
func (s *Server) SetReport(spec ReportSpec) {
	s.t.Helper()
	s.call("report", map[string]any{"polls": spec.Polls, "expired": spec.Expired, "discard": spec.Discard}, nil)
}

// syncBuffer collects the server's stderr for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		b.buf.Reset()
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
