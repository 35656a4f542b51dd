package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrAmbiguous: an ID prefix names several records.
var ErrAmbiguous = errors.New("the ID prefix names several records")

// AmbiguousError lists the records an ID prefix names.
type AmbiguousError struct {
	Prefix string
	IDs    []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("record ID %q names %d records (%s): give more of the ID", e.Prefix, len(e.IDs), strings.Join(e.IDs, ", "))
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// ErrSeveralAccounts: the store holds records of several accounts and none was named.
var ErrSeveralAccounts = errors.New("the history holds several accounts")

// SeveralAccountsError lists the accounts of the store.
type SeveralAccountsError struct{ Accounts []string }

func (e *SeveralAccountsError) Error() string {
	return fmt.Sprintf("the history holds records of %d accounts (%s): name one", len(e.Accounts), strings.Join(e.Accounts, ", "))
}

func (e *SeveralAccountsError) Unwrap() error { return ErrSeveralAccounts }

// ErrTooFew: there are not two records to compare.
var ErrTooFew = errors.New("not enough records to compare")

// Resolve returns the record whose ID is id, or the one record whose ID starts with it. It fails
// with an error matching ErrNotFound when none does and with an *AmbiguousError when several do.
func (s *Store) Resolve(ctx context.Context, id string) (*Record, error) {
	if id == "" {
		return nil, fmt.Errorf("history record: empty ID: %w", ErrNotFound)
	}
	r, err := s.Get(ctx, id)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return r, err
	}
	metas, err := s.List(ctx, Filter{})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range metas {
		if strings.HasPrefix(m.ID, id) {
			ids = append(ids, m.ID)
		}
	}
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("history record %s: %w", id, ErrNotFound)
	case 1:
		return s.Get(ctx, ids[0])
	}
	return nil, &AmbiguousError{Prefix: id, IDs: ids}
}

// Pair picks the two records to compare, earlier first, as 'iamwarden diff' does:
//   - no ID: the last two records of accountID, or with accountID empty of the one account the
//     store holds (an *SeveralAccountsError when it holds several);
//   - one ID: that record and the one recorded before it of the same account;
//   - two IDs: those records, in the order given.
//
// IDs may be unique prefixes (Resolve). Fewer than two records fail with ErrTooFew.
func (s *Store) Pair(ctx context.Context, accountID string, ids ...string) (from, to *Record, err error) {
	switch len(ids) {
	case 0:
		if accountID == "" {
			if accountID, err = s.onlyAccount(ctx); err != nil {
				return nil, nil, err
			}
		}
		recs, err := s.Latest(ctx, accountID, 2)
		if err != nil {
			return nil, nil, err
		}
		if len(recs) < 2 {
			return nil, nil, fmt.Errorf("%w: account %s has %d record(s) in the history", ErrTooFew, accountID, len(recs))
		}
		return recs[1], recs[0], nil
	case 1:
		to, err := s.Resolve(ctx, ids[0])
		if err != nil {
			return nil, nil, err
		}
		if accountID != "" && accountID != to.Result.AccountID {
			return nil, nil, fmt.Errorf("record %s is of account %s, not %s", to.ID, to.Result.AccountID, accountID)
		}
		prev, err := s.before(ctx, to)
		if err != nil {
			return nil, nil, err
		}
		return prev, to, nil
	case 2:
		if from, err = s.Resolve(ctx, ids[0]); err != nil {
			return nil, nil, err
		}
		if to, err = s.Resolve(ctx, ids[1]); err != nil {
			return nil, nil, err
		}
		return from, to, nil
	}
	return nil, nil, fmt.Errorf("compare two records, not %d", len(ids))
}

// onlyAccount is the account of every record, when there is one.
func (s *Store) onlyAccount(ctx context.Context) (string, error) {
	metas, err := s.List(ctx, Filter{})
	if err != nil {
		return "", err
	}
	var accounts []string
	for _, m := range metas {
		if !slices.Contains(accounts, m.AccountID) {
			accounts = append(accounts, m.AccountID)
		}
	}
	switch len(accounts) {
	case 0:
		return "", fmt.Errorf("%w: the history holds no records", ErrTooFew)
	case 1:
		return accounts[0], nil
	}
	slices.Sort(accounts)
	return "", &SeveralAccountsError{Accounts: accounts}
}

// before is the record of r's account listed right after r, newest first: the one recorded
// before it.
func (s *Store) before(ctx context.Context, r *Record) (*Record, error) {
	metas, err := s.List(ctx, Filter{AccountID: r.Result.AccountID})
	if err != nil {
		return nil, err
	}
	for i, m := range metas {
		if m.ID == r.ID {
			if i+1 < len(metas) {
				return s.Get(ctx, metas[i+1].ID)
			}
			break
		}
	}
	return nil, fmt.Errorf("%w: record %s is the first of account %s", ErrTooFew, r.ID, r.Result.AccountID)
}
