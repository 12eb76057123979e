//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFeed takes the run lock of one feed of the SQLite database at path:
// an exclusive flock on a file beside it, "<path>-<feed>.lock". SQLite's
// own lock cannot tell a run of the same feed (which must give up at once)
// from a run of another feed (which must wait for the writer). The kernel
// drops the lock when the process ends, however it ends; the file stays.
func lockFeed(path, feed string) (unlock func(), err error) {
	name := path + "-" + feed + ".lock"
	fd, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("%w: take the run lock %s: %v", ErrUnavailable, name, errors.Unwrap(err))
	}
	if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fd.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("%w: take the run lock %s: %v", ErrUnavailable, name, err)
	}
	// Unlock before closing: a child process forked by this one (a test's,
	// or a hook's) may hold a copy of the descriptor until it execs, and
	// closing ours alone would leave the lock held until then.
	return func() { syscall.Flock(int(fd.Fd()), syscall.LOCK_UN); fd.Close() }, nil
}
