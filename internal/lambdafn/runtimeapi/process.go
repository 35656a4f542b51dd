package runtimeapi

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// BuildBootstrap builds the main package pkg as a Lambda bootstrap for the host (GOOS and
// GOARCH of the running test, CGO_ENABLED=0, -tags lambda.norpc) into t.TempDir() and returns
// the binary's path. pkg is a `go build` package argument resolved from the test's working
// directory (its package directory): a relative path such as ./testdata/echo, or an import path
// such as github.com/iamwarden/iamwarden/cmd/iamwarden-lambda, which works from any package of
// the module.
func BuildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("runtimeapi: building %s needs the go command: %v", pkg, err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goTool, "build", "-tags", "lambda.norpc", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runtimeapi: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Process is a bootstrap running against a Server.
type Process struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error // Wait's error, set before exited closes
}

// Start runs the bootstrap bin against srv and kills it when the test ends; if the test failed,
// the process's output (stdout and stderr, where the function logs) is logged then. The process
// does not inherit the test's environment: it gets srv.Environ(), then env (a later entry wins
// over an earlier one of the same name), so AWS credentials, endpoints and the function's
// settings are exactly those the test passes.
func Start(t testing.TB, bin string, srv *Server, env []string) *Process {
	t.Helper()
	p := &Process{out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = filepath.Dir(bin)
	p.cmd.Env = append(append(srv.Environ(), "LAMBDA_TASK_ROOT="+p.cmd.Dir), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("runtimeapi: start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("runtimeapi: output of %s (pid %d, %v):\n%s", bin, p.cmd.Process.Pid, p.err, p.Output())
		}
	})
	return p
}

// Stop kills the process and waits for it to exit. It may be called more than once.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process exited (exec.Cmd.Wait's error); nil while it runs or after exit 0.
func (p *Process) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// Output returns what the process has written to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
