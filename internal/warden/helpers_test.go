package warden_test

import (
	"github.com/iamwarden/iamwarden/internal/journal"
)

func journalFilter(account string) journal.Filter { return journal.Filter{AccountID: account} }

func countKind(es []journal.Entry, kind journal.Kind) int {
	n := 0
	for _, e := range es {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
