package mototest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/iamwarden/iamwarden/internal/mototest"
)

// outcome records how a test using the server would end.
type outcome struct {
	testing.TB
	failed, skipped string
}

func (o *outcome) Helper() {}
func (o *outcome) Fatalf(format string, args ...any) {
	o.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (o *outcome) Skipf(format string, args ...any) {
	o.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// startWith runs Start as a test would, with python as the interpreter, and says how it ended.
func startWith(t *testing.T, python string) *outcome {
	t.Helper()
	t.Setenv("IAMWARDEN_MOTO_PYTHON", python)
	o := &outcome{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mototest.Start(o)
	}()
	<-done
	return o
}

// Without moto the tests that need it fail with one message saying what to install, unless
// skipping is asked for; CI never skips.
func TestMissingMoto(t *testing.T) {
	dir := t.TempDir()
	noMoto := filepath.Join(dir, "python3")
	// What server.py prints when its imports fail.
	script := "#!/bin/sh\necho \"MOTO_MISSING No module named 'moto'\"\nexit 3\n"
	if err := os.WriteFile(noMoto, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		python   string
		env      map[string]string
		wantSkip bool
		want     []string
	}{
		{"moto not importable", noMoto, nil, false,
			[]string{"cannot import moto", "No module named 'moto'", "pip install 'moto[server]==5.2.1'", "IAMWARDEN_SKIP_MOTO=1"}},
		{"no interpreter", filepath.Join(dir, "no-such-python"), nil, false,
			[]string{"no-such-python", "not found", "IAMWARDEN_MOTO_PYTHON"}},
		{"skipping asked for", noMoto, map[string]string{"IAMWARDEN_SKIP_MOTO": "1"}, true,
			[]string{"cannot import moto"}},
		{"skipping asked for in CI", noMoto, map[string]string{"IAMWARDEN_SKIP_MOTO": "1", "CI": "true"}, false,
			[]string{"cannot import moto"}},
		{"skipping asked for with moto required", noMoto, map[string]string{"IAMWARDEN_SKIP_MOTO": "1", "IAMWARDEN_REQUIRE_MOTO": "1"}, false,
			[]string{"cannot import moto"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"CI", "IAMWARDEN_SKIP_MOTO", "IAMWARDEN_REQUIRE_MOTO"} {
				t.Setenv(k, c.env[k])
			}
			o := startWith(t, c.python)
			got := o.failed
			if c.wantSkip {
				got = o.skipped
				if o.failed != "" {
					t.Errorf("failed %q, want a skip", o.failed)
				}
			} else if o.skipped != "" {
				t.Errorf("skipped %q, want a failure", o.skipped)
			}
			if got == "" {
				t.Fatal("Start neither failed nor skipped")
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("message %q does not contain %q", got, w)
				}
			}
		})
	}
}
