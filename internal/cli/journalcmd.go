package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// JournalInput selects journal entries.
type JournalInput struct {
	Journal journalFlags
	Account string
	Run     string
	User    string
	Open    bool
	Limit   int
	Yes     bool
}

func newJournalCmd(g *globals) *cobra.Command {
	in := &JournalInput{}
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Show the journal of enforcement actions",
	}
	addJournalFlags(cmd.PersistentFlags(), &in.Journal)
	list := &cobra.Command{
		Use:   "list",
		Short: "List actions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJournalList(cmd.Context(), g, in)
		},
	}
	lf := list.Flags()
	lf.StringVar(&in.Account, "account", "", "only this account")
	lf.StringVar(&in.Run, "run", "", "only this run")
	lf.StringVar(&in.User, "user", "", "only this IAM user")
	lf.BoolVar(&in.Open, "open", false, "only intents without a result (interrupted runs)")
	lf.IntVar(&in.Limit, "limit", 50, "at most this many entries (0: all)")
	show := &cobra.Command{
		Use:   "show ACTION_ID",
		Short: "Show one action with its prior state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJournalShow(cmd.Context(), g, in, args[0])
		},
	}
	init := &cobra.Command{
		Use:   "init",
		Short: "Create the journal: the SQLite file, or the DynamoDB table (on-demand, point-in-time recovery); idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJournalInit(cmd.Context(), g, in)
		},
	}
	unlock := &cobra.Command{
		Use:   "unlock ACCOUNT_ID",
		Short: "Break the lease a run holds on an account, when that run is gone",
		Long: `Show who holds the account's lease and, after confirmation, break it.

A run holds the lease while it changes the account and renews it before each change; a run that
died leaves it until it expires (2 minutes without renewal). Break it only when its holder is
gone: a live holder would go on changing the account beside the next run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJournalUnlock(cmd.Context(), g, in, args[0])
		},
	}
	unlock.Flags().BoolVar(&in.Yes, "yes", false, "do not ask for confirmation")
	cmd.AddCommand(list, show, init, unlock)
	return cmd
}

func runJournalInit(ctx context.Context, g *globals, in *JournalInput) error {
	if _, err := g.format("journal init"); err != nil {
		return err
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	table := firstNonEmpty(in.Journal.table, cfg.Journal.DynamoDBTable)
	if in.Journal.path != "" {
		table = ""
	}
	if table != "" {
		awsCfg, err := g.awsCfg(ctx, g.profile, g.region)
		if err != nil {
			return usageError{err: fmt.Errorf("aws configuration: %w", err)}
		}
		created, err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(awsCfg), table)
		if err != nil {
			return awsFailure(err)
		}
		verb := "exists"
		if created {
			verb = "created"
		}
		fmt.Fprintf(g.stdout, "journal table %s %s (on-demand, point-in-time recovery, lease expiry on)\n", table, verb)
	}
	j, err := openJournal(ctx, g, cfg, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	if err := j.Check(ctx); err != nil {
		return usageError{err: err}
	}
	if sj, ok := j.(*sqlite.Journal); ok {
		fmt.Fprintf(g.stdout, "journal %s ready (schema version %d)\n", sj.Path(), sqlite.SchemaVersion)
	}
	return nil
}

func runJournalUnlock(ctx context.Context, g *globals, in *JournalInput, account string) error {
	if _, err := g.format("journal unlock"); err != nil {
		return err
	}
	j, err := openConfiguredJournal(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	l, found, err := j.Holder(ctx, account)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if !found {
		fmt.Fprintf(g.stdout, "account %s is not leased; nothing to do\n", account)
		return nil
	}
	now := g.now()
	state := "held until " + l.Expires.UTC().Format(time.RFC3339)
	if !l.Held(now) {
		state = "expired " + l.Expires.UTC().Format(time.RFC3339) + " (the next run takes it over by itself)"
	}
	fmt.Fprintf(g.stderr, "Account %s is leased by run %s\n  actor %s\n  host  %s, pid %d\n  since %s, %s\n",
		account, l.RunID, report.SafeText(l.Actor), report.SafeText(l.Host), l.PID, l.Acquired.UTC().Format(time.RFC3339), state)
	if !in.Yes {
		if err := confirm(g, account, "", "break the lease of run "+l.RunID+" (make sure it is not running)"); err != nil {
			return err
		}
	}
	if err := j.Release(ctx, account, l.RunID); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	fmt.Fprintf(g.stdout, "lease of run %s on account %s broken\n", l.RunID, account)
	return nil
}

func loadConfig(g *globals) (*config.Config, error) {
	cfg, _, err := loadConfigFile(g)
	return cfg, err
}

// loadConfigFile finds the configuration file (config.Discover: --config, IAMWARDEN_CONFIG,
// ./iamwarden.yaml, the XDG config directory), logs which one at info level, and loads it.
func loadConfigFile(g *globals) (*config.Config, string, error) {
	path := config.Discover(g.config, g.getenv)
	if path == "" {
		g.logger().Info("no configuration file; using the defaults", "looked_for", "--config, IAMWARDEN_CONFIG, ./"+config.FileName+", $XDG_CONFIG_HOME/iamwarden/config.yaml")
	} else {
		g.logger().Info("configuration", "file", path)
	}
	cfg, err := config.Load(path, g.getenv)
	if err != nil {
		return nil, "", usageError{err: err, hint: "see docs/configuration.md"}
	}
	return cfg, path, nil
}

func runJournalList(ctx context.Context, g *globals, in *JournalInput) error {
	format, err := g.format("journal list")
	if err != nil {
		return err
	}
	j, err := openConfiguredJournal(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	f := journal.Filter{AccountID: in.Account, RunID: in.Run, Principal: in.User, Limit: in.Limit}
	if in.Open {
		f.Statuses = []journal.Status{journal.StatusIntent}
	}
	entries, err := j.List(ctx, f)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if format != report.FormatTable {
		return writeJSON(g, nonNilEntries(entries))
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION_ID\tWHEN\tACCOUNT\tKIND\tUSER\tKEY\tSTATUS\tRUN")
	for _, e := range entries {
		key := "-"
		if e.Resource != "" {
			key = rules.MaskKeyID(e.Resource)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ActionID, e.CreatedAt.UTC().Format(time.RFC3339), e.AccountID, e.Kind, report.SafeText(e.Principal), key, e.Status, dash(e.RunID))
	}
	return tw.Flush()
}

func runJournalShow(ctx context.Context, g *globals, in *JournalInput, id string) error {
	format, err := g.format("journal show")
	if err != nil {
		return err
	}
	j, err := openConfiguredJournal(ctx, g, in.Journal)
	if err != nil {
		return err
	}
	defer j.Close()
	e, err := j.Get(ctx, id)
	if err != nil {
		return usageError{err: fmt.Errorf("journal: %s: %w", id, err), hint: "iamwarden journal list"}
	}
	if format != report.FormatTable {
		return writeJSON(g, e)
	}
	w := g.stdout
	fmt.Fprintf(w, "action    %s\nrun       %s\naccount   %s\nkind      %s\nuser      %s\n", e.ActionID, dash(e.RunID), e.AccountID, e.Kind, report.SafeText(e.Principal))
	if e.UserID != "" {
		fmt.Fprintf(w, "user id   %s\n", e.UserID)
	}
	if e.Resource != "" {
		fmt.Fprintf(w, "resource  %s\n", rules.MaskKeyID(e.Resource))
	}
	fmt.Fprintf(w, "rule      %s\nfinding   %s\nreason    %s\nstatus    %s\ndetail    %s\nactor     %s\ncreated   %s\nupdated   %s\n",
		dash(e.Rule), report.SafeText(dash(rules.MaskFindingID(e.FindingID))), report.SafeText(dash(e.Reason)), e.Status, report.SafeText(dash(e.Detail)), report.SafeText(dash(e.Actor)),
		e.CreatedAt.UTC().Format(time.RFC3339Nano), e.UpdatedAt.UTC().Format(time.RFC3339Nano))
	if e.UndoOf != "" {
		fmt.Fprintf(w, "undo of   %s\n", e.UndoOf)
	}
	if len(e.Prior) > 0 {
		var parts []string
		for k, v := range e.Prior {
			parts = append(parts, report.SafeText(k+"="+v))
		}
		slices.Sort(parts)
		fmt.Fprintf(w, "prior     %s\n", strings.Join(parts, " "))
	}
	return nil
}

func writeJSON(g *globals, v any) error { return encodeJSON(g.stdout, v) }

// encodeJSON writes v indented, with "<" and ">" kept readable.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func nonNilEntries(es []journal.Entry) []journal.Entry {
	if es == nil {
		return []journal.Entry{}
	}
	return es
}
