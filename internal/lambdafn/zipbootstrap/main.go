// Command zipbootstrap packages a Lambda bootstrap binary as the function's deployment zip: one
// entry named "bootstrap", mode 0755, with a fixed timestamp so the same binary always gives the
// same zip (and the same code hash for CloudFormation and Terraform).
//
//	go run ./internal/lambdafn/zipbootstrap -o dist/lambda/iamwarden-lambda.zip dist/lambda/bootstrap
//
// `make lambda` runs it. It is a Go program rather than `zip -j` because zip is missing on many
// fresh machines and CI images, and zip's output depends on the file's mtime and the umask. It
// lives under internal/ because it is a build tool, not a binary iamwarden ships (cmd/ holds
// those).
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// EntryName is the file Lambda's provided runtimes execute.
const EntryName = "bootstrap"

// modified is every archive's timestamp: the earliest an MS-DOS date can hold.
var modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if err := Run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zipbootstrap:", err)
		os.Exit(1)
	}
}

// Run parses args (-o OUT.zip BINARY) and writes the zip.
func Run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("zipbootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "the zip file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return errors.New("usage: zipbootstrap -o OUT.zip BINARY")
	}
	return WriteFile(*out, fs.Arg(0))
}

// WriteFile writes the zip of the binary at bin to out, replacing out only once it is whole.
func WriteFile(out, bin string) error {
	content, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".zipbootstrap-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := Write(tmp, content); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// Write writes a zip holding content as the entry "bootstrap", mode 0755, deflated.
func Write(w io.Writer, content []byte) error {
	zw := zip.NewWriter(w)
	hdr := &zip.FileHeader{Name: EntryName, Method: zip.Deflate, Modified: modified}
	hdr.SetMode(0o755)
	f, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		return err
	}
	return zw.Close()
}
