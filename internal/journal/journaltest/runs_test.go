package journaltest_test

import (
	"testing"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
)

func TestRunsInMemoryPassTheSuite(t *testing.T) {
	journaltest.RunStoreSuite(t, func(t *testing.T) journal.RunStore { return &journaltest.Runs{} })
}
