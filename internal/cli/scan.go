package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/scan"
)

// ScanInput is what the scan command was asked to do.
type ScanInput struct {
	From       string // export directory; empty for a live scan
	AsOf       string // RFC 3339, YYYY-MM-DD, or +/-duration relative to the data's read time
	Only       []string
	Skip       []string
	Stats      bool
	Parameter  string
	Thresholds thresholdFlags
	// SCPs are SCP files by organization level, root first; each entry one level, its files
	// separated by commas. They replace the SCPs a live scan or an export would provide.
	SCPs []string
	// Concurrency bounds the per-user lookups of a live scan in flight.
	Concurrency int
}

// thresholdFlags override the configuration's thresholds when given.
type thresholdFlags struct {
	grace         string
	passwordDays  dayFlag
	keyUnusedDays dayFlag
	keyAgeDays    dayFlag
	rootUsedDays  dayFlag
}

// dayFlag is a day threshold given on the command line; set tells 0 given from not given, so
// that --password-days 0 is refused as "days: 0" in the file is.
type dayFlag struct {
	days int
	set  bool
}

func (d *dayFlag) String() string {
	if !d.set {
		return ""
	}
	return strconv.Itoa(d.days)
}

func (d *dayFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number of days", s)
	}
	d.days, d.set = n, true
	return nil
}

func (d *dayFlag) Type() string { return "days" }

func newScanCmd(g *globals) *cobra.Command {
	in := &ScanInput{}
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Audit every IAM user of an account, live or from an export",
		Long: `Audit every IAM user and the root user of one AWS account.

Live, the scan reads the credential report, the account authorization details and the virtual MFA
devices in a handful of API calls. With --from it reads the same answers from files written by
'iamwarden export' or by the AWS CLI (see docs/export.md).

Exit codes: 0 no violations, 1 violations found, 2 usage or runtime error, 3 partial result.`,
		Example: `  iamwarden scan --from examples/demo-account
  iamwarden scan --profile prod --output json
  iamwarden scan --as-of +7d            # who loses console access next week?`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runScan(cmd.Context(), g, in)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.From, "from", "", "read an export directory instead of the live account")
	f.StringVar(&in.AsOf, "as-of", "", "judge as of TIME (RFC 3339 or YYYY-MM-DD) or +DURATION/-DURATION from the data's read time (e.g. +7d)")
	f.StringSliceVar(&in.Only, "rule", nil, "run only these rules (repeatable or comma-separated)")
	f.StringSliceVar(&in.Skip, "skip-rule", nil, "do not run these rules")
	f.BoolVar(&in.Stats, "stats", false, "print AWS API calls per operation on stderr (and in JSON output)")
	f.StringArrayVar(&in.SCPs, "scp", nil, "SCP files of one organization level, comma-separated, from the root down to the account (repeatable, one per level); replaces the SCPs read from the organization or the export")
	f.IntVar(&in.Concurrency, "concurrency", scan.DefaultConcurrency, "per-user AWS calls of a live scan in flight at once (throttling slows them down adaptively)")
	f.StringVar(&in.Parameter, "exemption-parameter", "", "SSM StringList parameter of exempt user names (overrides the config file)")
	f.StringVar(&in.Thresholds.grace, "grace", "", "console-mfa-missing grace period after the password is set (e.g. 24h, 3d)")
	f.Var(&in.Thresholds.passwordDays, "password-days", "password-unused threshold in days, at least 1 (default 90)")
	f.Var(&in.Thresholds.keyUnusedDays, "key-unused-days", "access-key-unused threshold in days, at least 1 (default 90)")
	f.Var(&in.Thresholds.keyAgeDays, "key-max-age-days", "access-key-not-rotated threshold in days, at least 1 (default 90)")
	f.Var(&in.Thresholds.rootUsedDays, "root-used-days", "root-recently-used window in days, at least 1 (default 1)")
	_ = cmd.RegisterFlagCompletionFunc("rule", completeRuleIDs)
	_ = cmd.RegisterFlagCompletionFunc("skip-rule", completeRuleIDs)
	return cmd
}

// ScanSetup is the judged configuration shared by scan and, later, enforce.
type ScanSetup struct {
	Config     *config.Config
	ConfigFile string // "" when none was found
	Rules      []rules.Rule
	Thresholds rules.Thresholds
}

func (in *ScanInput) setup(g *globals) (*ScanSetup, error) {
	cfg, file, err := loadConfigFile(g)
	if err != nil {
		return nil, err
	}
	if in.Parameter != "" {
		cfg.ExemptionParameter = in.Parameter
	}
	selected := cfg.EnabledRules()
	if len(in.Only) > 0 {
		if selected, err = pickRules(selected, in.Only, true); err != nil {
			return nil, err
		}
	}
	if len(in.Skip) > 0 {
		if selected, err = pickRules(selected, in.Skip, false); err != nil {
			return nil, err
		}
	}
	th := cfg.Thresholds()
	t := in.Thresholds
	if t.grace != "" {
		d, err := config.ParseDuration(t.grace)
		if err != nil || d < 0 {
			return nil, usageError{err: fmt.Errorf("--grace: invalid duration %q", t.grace), hint: "--grace 24h"}
		}
		th.ConsoleMFAGrace = d
	}
	// The same rule as rules.<id>.days in the file: at least 1.
	for _, o := range []struct {
		name string
		v    dayFlag
		dst  *int
	}{
		{"--password-days", t.passwordDays, &th.PasswordUnusedDays},
		{"--key-unused-days", t.keyUnusedDays, &th.AccessKeyUnusedDays},
		{"--key-max-age-days", t.keyAgeDays, &th.AccessKeyMaxAgeDays},
		{"--root-used-days", t.rootUsedDays, &th.RootRecentlyUsedDays},
	} {
		if !o.v.set {
			continue
		}
		if o.v.days < 1 {
			return nil, usageError{err: fmt.Errorf("%s: must be at least 1, got %d", o.name, o.v.days), hint: o.name + " 90"}
		}
		*o.dst = o.v.days
	}
	return &ScanSetup{Config: cfg, ConfigFile: file, Rules: selected, Thresholds: th}, nil
}

// pickRules keeps (keep=true) or drops the named rules, rejecting unknown IDs.
func pickRules(from []rules.Rule, ids []string, keep bool) ([]rules.Rule, error) {
	want := map[string]bool{}
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if _, ok := rules.Lookup(id); !ok {
			return nil, usageError{err: fmt.Errorf("unknown rule %q", id), hint: "iamwarden rules"}
		}
		want[id] = true
	}
	var out []rules.Rule
	for _, r := range from {
		if want[r.ID] == keep {
			out = append(out, r)
		}
	}
	return out, nil
}

// parseAsOf resolves --as-of against the data's read time.
func parseAsOf(s string, base time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if s[0] == '+' || s[0] == '-' {
		d, err := config.ParseDuration(s)
		if err != nil {
			return time.Time{}, usageError{err: fmt.Errorf("--as-of: %w", err), hint: "--as-of +7d or --as-of 2026-12-01T00:00:00Z"}
		}
		return base.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageError{err: fmt.Errorf("--as-of: invalid time %q", s), hint: "--as-of +7d or --as-of 2026-12-01T00:00:00Z"}
}

func runScan(ctx context.Context, g *globals, in *ScanInput) error {
	format, err := g.format("scan")
	if err != nil {
		return err
	}
	if in.Concurrency < 1 {
		return usageError{err: fmt.Errorf("--concurrency must be at least 1, got %d", in.Concurrency), hint: fmt.Sprintf("--concurrency %d", scan.DefaultConcurrency)}
	}
	progress := scan.NewProgressWriter(g.stderr, stderrIsTerminal(g), g.now)
	setup, err := in.setup(g)
	if err != nil {
		return err
	}
	scps, err := loadSCPFlags(in.SCPs)
	if err != nil {
		return err
	}
	var (
		snap     *inventory.Snapshot
		live     scan.Live
		calls    func() map[string]int
		warnings []inventory.Problem
		params   []string
	)
	if in.From != "" {
		raw, err := inventory.ReadExport(in.From)
		if err != nil {
			return usageError{err: err, hint: "see docs/export.md for the files an export holds"}
		}
		if snap, err = inventory.Assemble(raw); err != nil {
			return fmt.Errorf("export %s: %w", in.From, err)
		}
		if snap.ReadAt.IsZero() {
			snap.ReadAt = g.now().UTC()
			warnings = append(warnings, inventory.Problem{Where: in.From, Message: "the export has no read time (no manifest.json); judged as of now"})
		}
		if p := setup.Config.ExemptionParameter; p != "" {
			warnings = append(warnings, inventory.Problem{Where: "ssm:" + p, Message: "exemption parameter not read in offline mode; users it lists are judged without it"})
		}
	} else {
		a, err := connect(ctx, g)
		if err != nil {
			return err
		}
		loader := a.loader(g)
		var org inventory.OrganizationsAPI = a.org
		if scps != nil {
			org = nil // given: not read
		}
		if snap, err = readAccount(ctx, loader, org); err != nil {
			return err
		}
		live = loader
		calls = a.counter.Snapshot
		if p := setup.Config.ExemptionParameter; p != "" {
			params, err = exempt.LoadParameter(ctx, a.ssm, p)
			switch {
			case errors.Is(err, exempt.ErrParameterNotFound):
				warnings = append(warnings, inventory.Problem{Where: "ssm:GetParameter", Message: err.Error() + "; no users exempted by it"})
			case err != nil:
				// Without the list, exempt users would be reported as violations: say the
				// result is partial rather than guess.
				snap.Problems = append(snap.Problems, inventory.Problem{Where: "ssm:GetParameter", Message: err.Error()})
			}
		}
	}
	if scps != nil {
		snap.SCPs = scps
	}
	asOf, err := parseAsOf(in.AsOf, snap.ReadAt)
	if err != nil {
		return err
	}
	warnings = append(warnings, exempt.Problems(snap.Users)...)
	res, err := scan.Run(ctx, snap, scan.Options{
		AsOf:        asOf,
		Rules:       setup.Rules,
		Thresholds:  setup.Thresholds,
		Exempter:    exempt.New(setup.Config, params),
		Warnings:    warnings,
		Now:         g.now,
		Log:         g.log,
		Concurrency: in.Concurrency,
		Progress:    progress.Update,
	}, live)
	progress.Finish()
	if err != nil {
		return err
	}
	res.ConfigFile = setup.ConfigFile
	if in.Stats && calls != nil {
		res.Calls = calls()
		printStats(g.stderr, res.Calls)
	}
	if err := report.Write(g.stdout, res, format); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if code := res.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// loadSCPFlags reads the --scp files: one flag per organization level, root first, each naming
// the level's files separated by commas. Nil when none are given.
func loadSCPFlags(levels []string) (*inventory.SCPs, error) {
	if len(levels) == 0 {
		return nil, nil
	}
	s := &inventory.SCPs{State: inventory.SCPsRead, Reason: "given with --scp"}
	for i, level := range levels {
		l := inventory.SCPLevel{Target: fmt.Sprintf("--scp %d", i+1)}
		for _, file := range strings.Split(level, ",") {
			file = strings.TrimSpace(file)
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, usageError{err: fmt.Errorf("--scp: %w", err), hint: "--scp root.json --scp ou.json,deny.json"}
			}
			if _, err := policy.Parse(file, data, policy.KindSCP); err != nil {
				return nil, usageError{err: fmt.Errorf("--scp %s: %w", file, err), hint: "iamwarden policy lint " + file}
			}
			l.Policies = append(l.Policies, inventory.SCPPolicy{Name: filepath.Base(file), Document: inventory.PolicyDocument(data)})
		}
		s.Levels = append(s.Levels, l)
	}
	return s, nil
}

// stderrIsTerminal reports whether the scan's stderr is a terminal, where progress may be drawn.
func stderrIsTerminal(g *globals) bool {
	f, ok := g.stderr.(*os.File)
	return ok && isTerminal(f)
}
