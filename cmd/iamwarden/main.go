// Command iamwarden audits and fixes the IAM users of AWS accounts. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/iamwarden/iamwarden/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
