package main_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zipbootstrap "github.com/iamwarden/iamwarden/internal/lambdafn/zipbootstrap"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "some-binary-name")
	content := bytes.Repeat([]byte("\x7fELF not really a binary\n"), 1000)
	if err := os.WriteFile(bin, content, 0o600); err != nil { // mode and name must not matter
		t.Fatal(err)
	}
	out := filepath.Join(dir, "function.zip")
	if err := zipbootstrap.Run([]string{"-o", out, bin}, io.Discard); err != nil {
		t.Fatalf("Run: %v", err)
	}

	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry %q, want bootstrap", f.Name)
	}
	if f.Mode() != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x", f.Mode())
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("entry content differs from the binary (%d bytes, want %d)", len(got), len(content))
	}

	// The same binary gives the same zip, whenever it is built.
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := zipbootstrap.Run([]string{"-o", out, bin}, io.Discard); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("zipping the same binary twice gave different zips")
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{filepath.Join(dir, "bootstrap")}, "usage"},
		{"no binary", []string{"-o", filepath.Join(dir, "a.zip")}, "usage"},
		{"two binaries", []string{"-o", filepath.Join(dir, "a.zip"), "x", "y"}, "usage"},
		{"missing binary", []string{"-o", filepath.Join(dir, "a.zip"), filepath.Join(dir, "nope")}, "no such file"},
		{"unknown flag", []string{"-x"}, "not defined"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := zipbootstrap.Run(c.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Run(%q) = %v, want an error saying %q", c.args, err, c.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs left files: %v", entries)
	}
}
