package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Acquire takes the account's lease; see journal.Leaser. The read and the write are one write
// transaction (BEGIN IMMEDIATE), so two processes cannot both find the lease free.
func (j *Journal) Acquire(ctx context.Context, l journal.Lease, now time.Time) error {
	if err := journal.CheckLease(l); err != nil {
		return err
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
	}
	defer tx.Rollback()
	cur, found, err := holder(ctx, tx, l.AccountID)
	if err != nil {
		return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
	}
	if found && cur.RunID != l.RunID && cur.Held(now) {
		return &journal.LeasedError{Holder: cur}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO leases (account_id, run_id, actor, host, pid, acquired_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, l.AccountID, l.RunID, l.Actor, l.Host, l.PID,
		journal.FormatTime(l.Acquired), journal.FormatTime(l.Expires)); err != nil {
		return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
	}
	return nil
}

// Renew extends the run's lease; see journal.Leaser.
func (j *Journal) Renew(ctx context.Context, l journal.Lease, now time.Time) error {
	if err := journal.CheckLease(l); err != nil {
		return err
	}
	// A lease past its expiry is renewed only while nobody took it: the row still names the run.
	res, err := j.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE account_id = ? AND run_id = ?`,
		journal.FormatTime(l.Expires), l.AccountID, l.RunID)
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.AccountID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if err != nil {
			return fmt.Errorf("renew lease of %s: %w", l.AccountID, err)
		}
		return fmt.Errorf("renew lease of %s for run %s: %w", l.AccountID, l.RunID, journal.ErrLeaseLost)
	}
	return nil
}

// Release gives the lease up; see journal.Leaser.
func (j *Journal) Release(ctx context.Context, accountID, runID string) error {
	if _, err := j.db.ExecContext(ctx, `DELETE FROM leases WHERE account_id = ? AND run_id = ?`, accountID, runID); err != nil {
		return fmt.Errorf("release lease of %s: %w", accountID, err)
	}
	return nil
}

// Holder returns the account's lease; see journal.Leaser.
func (j *Journal) Holder(ctx context.Context, accountID string) (journal.Lease, bool, error) {
	l, found, err := holder(ctx, j.db, accountID)
	if err != nil {
		return journal.Lease{}, false, fmt.Errorf("read lease of %s: %w", accountID, err)
	}
	return l, found, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func holder(ctx context.Context, q queryRower, accountID string) (journal.Lease, bool, error) {
	l := journal.Lease{AccountID: accountID}
	var acquired, expires string
	err := q.QueryRowContext(ctx, `SELECT run_id, actor, host, pid, acquired_at, expires_at FROM leases WHERE account_id = ?`,
		accountID).Scan(&l.RunID, &l.Actor, &l.Host, &l.PID, &acquired, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return journal.Lease{}, false, nil
	}
	if err != nil {
		return journal.Lease{}, false, err
	}
	if l.Acquired, err = journal.ParseTime(acquired); err != nil {
		return journal.Lease{}, false, err
	}
	if l.Expires, err = journal.ParseTime(expires); err != nil {
		return journal.Lease{}, false, err
	}
	return l, true, nil
}

// Check verifies the database is writable: a write transaction is begun and rolled back. Open
// has already brought the schema up to date.
func (j *Journal) Check(ctx context.Context) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal %s is not writable: %w; try: check the file's owner and mode, or --journal <path>", j.path, err)
	}
	defer tx.Rollback()
	// BEGIN IMMEDIATE takes the write lock lazily in some drivers: write to make sure.
	if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE account_id = ''`); err != nil {
		return fmt.Errorf("journal %s is not writable: %w; try: check the file's owner and mode, or --journal <path>", j.path, err)
	}
	return nil
}
