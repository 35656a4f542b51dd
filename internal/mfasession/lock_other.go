//go:build !unix

package mfasession

import (
	"context"
	"errors"
	"os"
	"time"
)

const (
	lockPoll = 20 * time.Millisecond
	// lockStale is how old a lock file must be to be taken as left by a dead process.
	lockStale = time.Minute
)

// lockFile creates path exclusively, waiting for it until ctx is done; a lock file older than
// lockStale is taken as left by a process that died. unlock removes it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > lockStale {
			_ = os.Remove(path)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}
