package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/pflag"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
)

// journalFlags select the journal store.
type journalFlags struct {
	path  string
	table string
}

// addJournalFlags declares --journal and --journal-table on fs.
func addJournalFlags(fs *pflag.FlagSet, jf *journalFlags) {
	fs.StringVar(&jf.path, "journal", "", "SQLite journal file (default: $XDG_STATE_HOME/iamwarden/journal.db)")
	fs.StringVar(&jf.table, "journal-table", "", "DynamoDB journal table instead of the SQLite file")
}

// openConfiguredJournal loads the configuration file and opens the journal it and the flags name.
func openConfiguredJournal(ctx context.Context, g *globals, jf journalFlags) (journal.Journal, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, err
	}
	return openJournal(ctx, g, cfg, jf)
}

// openJournal opens the DynamoDB table when one is named (flag, then config), else the SQLite
// file (flag, then config, then the XDG state directory).
func openJournal(ctx context.Context, g *globals, cfg *config.Config, jf journalFlags) (journal.Journal, error) {
	table, path, err := journalTarget(g, cfg, jf)
	if err != nil {
		return nil, err
	}
	if table != "" {
		awsCfg, err := g.awsCfg(ctx, g.profile, g.region)
		if err != nil {
			return nil, usageError{err: fmt.Errorf("aws configuration: %w", err)}
		}
		j, err := dynamo.New(dynamodb.NewFromConfig(awsCfg), table)
		if err != nil {
			return nil, fmt.Errorf("journal table %s: %w", table, err)
		}
		return j, nil
	}
	j, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// journalTarget is the journal openJournal opens: a DynamoDB table, or else a SQLite file.
func journalTarget(g *globals, cfg *config.Config, jf journalFlags) (table, path string, err error) {
	table = firstNonEmpty(jf.table, cfg.Journal.DynamoDBTable)
	path = firstNonEmpty(jf.path, cfg.Journal.Path)
	if jf.path != "" {
		table = "" // an explicit file wins over a configured table
	}
	if table != "" {
		return table, "", nil
	}
	if path == "" {
		if path, err = sqlite.DefaultPath(g.getenv); err != nil {
			return "", "", usageError{err: fmt.Errorf("journal: %w", err), hint: "--journal FILE"}
		}
	}
	return "", path, nil
}

// recordFailure is the error of a run whose output was written but whose history record could
// not be stored: it names the journal and says what to try.
func recordFailure(g *globals, cfg *config.Config, jf journalFlags, err error) error {
	table, path, terr := journalTarget(g, cfg, jf)
	if terr != nil {
		return terr
	}
	if table != "" {
		return usageError{err: fmt.Errorf("the output was written, but not recorded in the history of journal table %s: %w", table, err),
			hint: "iamwarden journal init --journal-table " + table + " (creates the table), check the permissions in docs/journal.md#permissions, or run without --record"}
	}
	return usageError{err: fmt.Errorf("the output was written, but not recorded in the history of journal %s: %w", path, err),
		hint: "iamwarden journal init --journal " + path + " (migrates the file), check that it is writable, name another with --journal FILE, or run without --record"}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
