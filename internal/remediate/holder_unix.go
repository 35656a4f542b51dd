//go:build unix

package remediate

import (
	"errors"
	"os"
	"syscall"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// holderGone reports whether the lease's holder is a process of this host that no longer exists
// (killed, crashed): its lease may be taken over at once instead of after it expires.
func holderGone(l journal.Lease) bool {
	host, err := os.Hostname()
	if err != nil || l.Host != host || l.PID <= 0 || l.PID == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(l.PID, 0), syscall.ESRCH)
}
