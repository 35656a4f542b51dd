// Package cli is iamwarden's command line: cobra parses flags into option structs and calls the
// domain packages. No decision is made here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/report"
)

// Version is set at build time with -ldflags "-X github.com/iamwarden/iamwarden/internal/cli.Version=...".
var Version = "dev"

// globals are the flags every command shares.
type globals struct {
	profile  string
	region   string
	config   string
	logLevel string
	output   string
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	getenv   func(string) string
	now      func() time.Time
	awsCfg   AWSConfigLoader
	log      *slog.Logger
}

// AWSConfigLoader builds the AWS configuration for --profile and --region.
type AWSConfigLoader func(ctx context.Context, profile, region string) (aws.Config, error)

// Env is what Run needs from the process: tests pass their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
	// AWSConfig loads the AWS configuration; nil means the SDK's default chain.
	AWSConfig AWSConfigLoader
}

// exitError carries a command's exit code out of cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is an error the user can fix; Hint says how.
type usageError struct {
	err  error
	hint string
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	g := &globals{stdin: env.Stdin, stdout: env.Stdout, stderr: env.Stderr, getenv: env.Getenv, now: env.Now, awsCfg: env.AWSConfig}
	if g.awsCfg == nil {
		g.awsCfg = func(ctx context.Context, profile, region string) (aws.Config, error) {
			return awsapi.LoadConfig(ctx, awsapi.Options{Profile: profile, Region: region, Logger: g.log})
		}
	}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(env.Stderr, "iamwarden: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) && ue.hint != "" {
		fmt.Fprintf(env.Stderr, "try: %s\n", strings.TrimPrefix(ue.hint, "try: ")) // AWS hints carry their own lead
	}
	return report.ExitError
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "iamwarden",
		Short:         "Keep the IAM users of AWS accounts safe: MFA, unused credentials, key rotation",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			lvl, err := parseLevel(g.logLevel)
			if err != nil {
				return usageError{err: err, hint: "--log-level debug|info|warn|error"}
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.profile, "profile", "", "AWS shared config profile (default: the SDK's default chain)")
	pf.StringVar(&g.region, "region", "", "AWS region for the API clients (IAM is global; default us-east-1)")
	pf.StringVarP(&g.config, "config", "c", "", "configuration file (YAML or JSON); see docs/configuration.md")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	pf.StringVarP(&g.output, "output", "o", "", "output format: table, json or csv (default: table on a terminal, json otherwise)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err: err, hint: "iamwarden --help"}
	})
	root.AddCommand(newScanCmd(g), newExportCmd(g), newRulesCmd(g), newEnforceCmd(g), newJournalCmd(g), newUndoCmd(g), newPolicyCmd(g))
	return root
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q", s)
	}
	return l, nil
}

// format resolves --output: explicit value, else table on a terminal and JSON otherwise.
func (g *globals) format() (report.Format, error) {
	if g.output != "" {
		f, err := report.ParseFormat(g.output)
		if err != nil {
			return "", usageError{err: err, hint: "--output table|json|csv"}
		}
		return f, nil
	}
	if f, ok := g.stdout.(*os.File); ok && isTerminal(f) {
		return report.FormatTable, nil
	}
	return report.FormatJSON, nil
}
