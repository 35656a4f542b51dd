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
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/report"
)

// Version, when set at build time with -ldflags "-X github.com/iamwarden/iamwarden/internal/cli.Version=...",
// overrides the module version of the build info (see 'iamwarden version').
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
	// Errors quote names, files and documents: escaped like every other line people read, each
	// line of a joined error indented under the first.
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = report.SafeText(lines[i])
	}
	fmt.Fprintf(env.Stderr, "iamwarden: %s\n", strings.Join(lines, "\n  "))
	var ue usageError
	if errors.As(err, &ue) && ue.hint != "" {
		fmt.Fprintf(env.Stderr, "try: %s\n", report.SafeText(strings.TrimPrefix(ue.hint, "try: "))) // AWS hints carry their own lead
	}
	return report.ExitError
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "iamwarden",
		Short:         "Keep the IAM users of AWS accounts safe: MFA, unused credentials, key rotation",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion().String(),
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
	pf.StringVarP(&g.config, "config", "c", "", "configuration file (YAML or JSON; default: $IAMWARDEN_CONFIG, ./iamwarden.yaml, then $XDG_CONFIG_HOME/iamwarden/config.yaml); see docs/configuration.md")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	pf.StringVarP(&g.output, "output", "o", "", "output format: table, json or csv (default: table on a terminal, json otherwise)")
	_ = root.RegisterFlagCompletionFunc("output", completeOutput)
	_ = root.RegisterFlagCompletionFunc("log-level", fixedCompletion("debug", "info", "warn", "error"))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err: err, hint: "iamwarden --help"}
	})
	root.AddCommand(newScanCmd(g), newExportCmd(g), newRulesCmd(g), newEnforceCmd(g), newJournalCmd(g), newUndoCmd(g), newPolicyCmd(g), newMFACmd(g), newHistoryCmd(g), newDiffCmd(g), newReportCmd(g), newVersionCmd(g))
	return root
}

// logger is the run's logger; before the flags are parsed (never in practice), one that drops.
func (g *globals) logger() *slog.Logger {
	if g.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.log
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q", s)
	}
	return l, nil
}

// outputs are the formats each command prints, table (or text) first. format and the shell
// completion of --output read them.
var outputs = map[string][]report.Format{
	"scan":            {report.FormatTable, report.FormatJSON, report.FormatCSV, report.FormatOCSF, report.FormatASFF},
	"rules":           {report.FormatTable, report.FormatJSON, report.FormatCSV},
	"export":          {report.FormatTable},
	"enforce":         {report.FormatTable, report.FormatJSON},
	"undo":            {report.FormatTable, report.FormatJSON},
	"journal list":    {report.FormatTable, report.FormatJSON},
	"journal show":    {report.FormatTable, report.FormatJSON},
	"journal init":    {report.FormatTable},
	"journal unlock":  {report.FormatTable},
	"policy simulate": {report.FormatTable, report.FormatJSON},
	"policy apply":    {report.FormatTable, report.FormatJSON},
	"policy lint":     {report.FormatText, report.FormatJSON, report.FormatSARIF},
	"mfa status":      {report.FormatTable, report.FormatJSON},
	"mfa session":     {report.FormatText},
	"history":         {report.FormatTable, report.FormatJSON, report.FormatCSV},
	"history show":    {report.FormatTable, report.FormatJSON, report.FormatCSV},
	"diff":            {report.FormatTable, report.FormatJSON, report.FormatCSV, report.FormatOCSF, report.FormatASFF},
	"version":         {report.FormatTable, report.FormatJSON},
	"report":          {formatHTML},
}

// format resolves --output for command (a key of outputs): the value given, refused with an
// error when the command does not print it; else table on a terminal and JSON, when the command
// has it, otherwise. "text" and "table" name the same format, the one for people.
func (g *globals) format(command string) (report.Format, error) {
	allowed := outputs[command]
	if g.output == "" {
		if f, ok := g.stdout.(*os.File); (ok && isTerminal(f)) || !slices.Contains(allowed, report.FormatJSON) {
			return allowed[0], nil
		}
		return report.FormatJSON, nil
	}
	want := report.Format(strings.ToLower(g.output))
	for _, a := range allowed {
		if want == a || (isHuman(want) && isHuman(a)) {
			return a, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	if len(allowed) == 1 {
		return "", usageError{err: fmt.Errorf("%s prints %s only, not %q", command, allowed[0], g.output), hint: "leave out --output"}
	}
	list := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	return "", usageError{err: fmt.Errorf("%s prints %s, not %q", command, list, g.output), hint: "--output " + strings.Join(names, "|")}
}

func isHuman(f report.Format) bool { return f == report.FormatTable || f == report.FormatText }
