package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/policy"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/scan"
	"github.com/iamwarden/iamwarden/internal/securityhub"
	"github.com/iamwarden/iamwarden/internal/warden"
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
	// Concurrency bounds the per-user lookups of a live scan in flight, or with --org the
	// accounts scanned at once.
	Concurrency int
	Org         orgFlags
	// SecurityHub imports the findings into the account's Security Hub.
	SecurityHub bool
	// Record stores the result in the history of the journal Journal names (docs/history.md).
	Record  bool
	Journal journalFlags
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

// value is the days given, or nil when the flag was not.
func (d dayFlag) value() *int {
	if !d.set {
		return nil
	}
	return &d.days
}

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
  iamwarden scan --as-of +7d            # who loses console access next week?
  iamwarden scan --record               # keep the result in the history (iamwarden history, diff)`,
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
	f.IntVar(&in.Concurrency, "concurrency", scan.DefaultConcurrency, "per-user AWS calls of a live scan in flight at once, or with --org the accounts scanned at once (throttling slows them down adaptively)")
	addOrgFlags(f, &in.Org, defaultAuditRole)
	f.BoolVar(&in.SecurityHub, "security-hub", false, "import the findings into the account's Security Hub and archive, as passed, what was fixed since the last import (docs/security-hub.md)")
	f.BoolVar(&in.Record, "record", false, "keep the result in the history of the journal store (docs/history.md); with --org each account's")
	addJournalFlags(f, &in.Journal)
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

// settings loads the configuration file and applies the scan flags over it.
func (in *ScanInput) settings(g *globals, o warden.Overrides) (*warden.Settings, error) {
	cfg, file, err := loadConfigFile(g)
	if err != nil {
		return nil, err
	}
	o.Only, o.Skip, o.ExemptionParameter = in.Only, in.Skip, in.Parameter
	t := in.Thresholds
	if t.grace != "" {
		d, err := config.ParseDuration(t.grace)
		if err != nil || d < 0 {
			return nil, usageError{err: fmt.Errorf("--grace: invalid duration %q", t.grace), hint: "--grace 24h"}
		}
		o.Grace = &d
	}
	for _, d := range []struct {
		name string
		v    dayFlag
	}{{"--password-days", t.passwordDays}, {"--key-unused-days", t.keyUnusedDays}, {"--key-max-age-days", t.keyAgeDays}, {"--root-used-days", t.rootUsedDays}} {
		if d.v.set && d.v.days < 1 {
			return nil, usageError{err: fmt.Errorf("%s: must be at least 1, got %d", d.name, d.v.days), hint: d.name + " 90"}
		}
	}
	o.PasswordUnusedDays, o.KeyUnusedDays = t.passwordDays.value(), t.keyUnusedDays.value()
	o.KeyMaxAgeDays, o.RootUsedDays = t.keyAgeDays.value(), t.rootUsedDays.value()
	s, err := warden.Resolve(cfg, file, o)
	if err != nil {
		return nil, domainFailure(err)
	}
	return s, nil
}

// newWarden connects to the account the flags name and builds the use cases over it.
func newWarden(ctx context.Context, g *globals, s *warden.Settings, j journal.Journal) (*warden.Warden, error) {
	cfg, err := g.awsCfg(ctx, g.profile, g.region)
	if err != nil {
		return nil, usageError{err: fmt.Errorf("aws configuration: %w", err), hint: "check --profile, AWS_PROFILE or run 'aws configure'"}
	}
	return &warden.Warden{Clients: warden.Connect(cfg), Settings: s, Journal: j, Now: g.now, Log: g.log}, nil
}

func runScan(ctx context.Context, g *globals, in *ScanInput) error {
	format, err := g.format("scan")
	if err != nil {
		return err
	}
	if in.Concurrency < 1 {
		return usageError{err: fmt.Errorf("--concurrency must be at least 1, got %d", in.Concurrency), hint: fmt.Sprintf("--concurrency %d", scan.DefaultConcurrency)}
	}
	settings, err := in.settings(g, warden.Overrides{})
	if err != nil {
		return err
	}
	scps, err := loadSCPFlags(in.SCPs)
	if err != nil {
		return err
	}
	if err := in.Org.check(defaultAuditRole); err != nil {
		return err
	}
	if in.SecurityHub && in.From != "" {
		return usageError{err: errors.New("--security-hub imports what a live scan read; --from reads an export"), hint: "drop --from or --security-hub"}
	}
	if !in.Record && (in.Journal.path != "" || in.Journal.table != "") {
		return usageError{err: errors.New("--journal and --journal-table name where --record keeps the result"), hint: "add --record"}
	}
	if in.Org.on {
		return scanOrganization(ctx, g, in, settings, format)
	}
	j, err := scanJournal(ctx, g, in, settings)
	if err != nil {
		return err
	}
	if j != nil {
		defer j.Close()
	}
	w := &warden.Warden{Settings: settings, Now: g.now, Log: g.log}
	if in.From == "" {
		if w, err = newWarden(ctx, g, settings, j); err != nil {
			return err
		}
	}
	progress := scan.NewProgressWriter(g.stderr, stderrIsTerminal(g), g.now)
	res, snap, err := w.AuditSnapshot(ctx, warden.AuditOptions{From: in.From, AsOf: in.AsOf, SCPs: scps, Concurrency: in.Concurrency, Progress: progress.Update})
	progress.Finish()
	if err != nil {
		return domainFailure(err)
	}
	region := g.region
	if w.Clients != nil {
		region = w.Clients.Config.Region
	}
	if in.Stats && w.Clients != nil {
		res.Calls = w.Clients.Calls()
		printStats(g.stderr, res.Calls)
	}
	if err := writeScan(g.stdout, res, snap, region, format); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	var recordErr error
	if in.Record {
		// An export is judged without the journal's grace grants, with --record or not: the
		// journal only keeps the result.
		w.Journal = j
		m, err := w.Record(ctx, history.SourceCLI, res, nil, nil)
		if err != nil {
			recordErr = recordFailure(g, settings.Config, in.Journal, err)
		} else {
			printRecorded(g.stderr, m)
		}
	}
	if in.SecurityHub {
		store, err := securityHubStore(ctx, g, settings)
		if err != nil {
			return err
		}
		rep, err := w.ImportToSecurityHub(ctx, res, snap, store)
		printImport(g.stderr, res.AccountID, rep)
		if err != nil {
			return awsFailure(fmt.Errorf("security hub: %w", err))
		}
		if recordErr == nil && len(rep.Failed) > 0 {
			return exitError{code: report.ExitPartial}
		}
	}
	if recordErr != nil {
		return recordErr
	}
	if code := res.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// writeScan writes one account's result: the documented formats, or findings for security tools.
func writeScan(w io.Writer, res *report.Result, snap *inventory.Snapshot, region string, format report.Format) error {
	switch format {
	case report.FormatOCSF:
		return report.WriteOCSF(w, res, report.OCSFOptions{ProductVersion: currentVersion().Version, Region: region})
	case report.FormatASFF:
		return securityhub.WriteASFF(w, warden.ASFF(res, snap, asffRegion(region)))
	}
	return report.Write(w, res, format)
}

// asffRegion is the region ASFF findings name: Security Hub's findings are regional, IAM is
// not; without one the CLI's default region.
func asffRegion(region string) string {
	if region == "" {
		return "us-east-1"
	}
	return region
}

// securityHubStore is where the previous import is remembered: the DynamoDB journal table the
// configuration names, else a file per account and region beside the SQLite journal.
func securityHubStore(ctx context.Context, g *globals, s *warden.Settings) (securityhub.StateStore, error) {
	if t := s.Config.Journal.DynamoDBTable; t != "" {
		cfg, err := g.awsCfg(ctx, g.profile, g.region)
		if err != nil {
			return nil, usageError{err: fmt.Errorf("aws configuration: %w", err)}
		}
		return securityhub.NewDynamoStore(dynamodb.NewFromConfig(cfg), t)
	}
	path := s.Config.Journal.Path
	if path == "" {
		p, err := sqlite.DefaultPath(g.getenv)
		if err != nil {
			return nil, usageError{err: err}
		}
		path = p
	}
	return securityhub.NewFileStore(filepath.Join(filepath.Dir(path), "securityhub")), nil
}

// printImport says on stderr what an import did.
func printImport(w io.Writer, account string, r securityhub.SyncReport) {
	fmt.Fprintf(w, "security hub %s: %d imported (%d new, %d updated), %d archived as fixed, %d failed\n",
		account, r.Imported, r.Created, r.Updated, r.Resolved, len(r.Failed))
	for _, f := range r.Failed {
		fmt.Fprintf(w, "  failed: %s: %s %s\n", securityhub.DisplayID(f.ID), f.Code, report.SafeText(f.Message))
	}
}

// scanOrganization scans every selected account of the organization, writing each as it finishes.
func scanOrganization(ctx context.Context, g *globals, in *ScanInput, settings *warden.Settings, format report.Format) error {
	switch {
	case in.From != "":
		return usageError{err: errors.New("--org reads the accounts live; --from reads one export"), hint: "drop --from or --org"}
	case len(in.SCPs) > 0:
		return usageError{err: errors.New("--scp describes one account's organization levels; with --org the SCPs are read from the organization"), hint: "drop --scp"}
	}
	j, err := scanJournal(ctx, g, in, settings)
	if err != nil {
		return err
	}
	if j != nil {
		defer j.Close()
	}
	o, accounts, err := in.Org.organization(ctx, g, settings, j, "iamwarden-scan")
	if err != nil {
		return err
	}
	if in.Record {
		o.History = &warden.Recorder{Source: history.SourceCLI}
	}
	if in.SecurityHub {
		if o.SecurityHub, err = securityHubStore(ctx, g, settings); err != nil {
			return err
		}
	}
	ow, err := orgWriter(g.stdout, format, o.Base.Region)
	if err != nil {
		return err
	}
	progress := org.NewProgressWriter(g.stderr, stderrIsTerminal(g), g.now)
	err = o.Audit(ctx, accounts, in.Concurrency, warden.AuditOptions{AsOf: in.AsOf}, ow.Add, progress.Update)
	progress.Finish()
	totals, cerr := ow.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if format != report.FormatTable {
		for _, a := range ow.Failed() {
			fmt.Fprintf(g.stderr, "%s: account %s: %s\n", a.Status, a.AccountID, report.SafeText(a.Error))
		}
	}
	if err := printRecorder(g, settings, in.Journal, o.History); err != nil {
		return err
	}
	if code := totals.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// scanJournal is the journal of a scan: with --record the one the flags and configuration name,
// which also gives the grace periods of a live scan; else the one graceJournal opens, or nil.
func scanJournal(ctx context.Context, g *globals, in *ScanInput, s *warden.Settings) (journal.Journal, error) {
	if in.Record {
		return openJournal(ctx, g, s.Config, in.Journal)
	}
	if in.From != "" {
		return nil, nil
	}
	return graceJournal(ctx, g, s)
}

// printRecorder says on stderr which records an organization run was kept as, and returns the
// failure to record any of them; nil without --record.
func printRecorder(g *globals, s *warden.Settings, jf journalFlags, r *warden.Recorder) error {
	if r == nil {
		return nil
	}
	for _, m := range r.Recorded() {
		printRecorded(g.stderr, m)
	}
	if err := r.Err(); err != nil {
		return recordFailure(g, s.Config, jf, err)
	}
	return nil
}

// printRecorded says on stderr which record a run was kept as.
func printRecorded(w io.Writer, m history.Meta) {
	fmt.Fprintf(w, "recorded %s: %s of %s\n", m.ID, m.Kind, m.AccountID)
}

// graceJournal opens the journal the configuration names when the scan must read the grace
// periods granted after MFA removals from it; nil when it need not or none is named (the scan
// then warns that it judged without them).
func graceJournal(ctx context.Context, g *globals, s *warden.Settings) (journal.Journal, error) {
	c := s.Config.Journal
	if s.Thresholds.MFARemovedGrace <= 0 || (c.DynamoDBTable == "" && c.Path == "") {
		return nil, nil
	}
	return openJournal(ctx, g, s.Config, journalFlags{})
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
