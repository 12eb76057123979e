//go:build unix

package export

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on the folder path, waiting for it if
// wait, else failing at once when another process holds it. The kernel
// drops the lock when the process ends, however it ends: a folder whose
// lock can be taken belongs to no export under way.
func lockDir(path string, wait bool) (unlock func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}
