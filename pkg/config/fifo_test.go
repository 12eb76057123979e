//go:build unix

package config

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A .env or config file that is a named pipe is refused without being
// opened: with no writer, reading it waited for ever. The test writes
// into the pipe, so that a reader that does open it gets A=1 and returns
// instead of hanging, and the test fails rather than blocks.
func TestPipesAreNotRead(t *testing.T) {
	for _, name := range []string{".env", "trafficctl.yaml"} {
		t.Run(name, func(t *testing.T) {
			inDir(t)
			t.Cleanup(func() { os.Unsetenv("A") })
			if err := syscall.Mkfifo(name, 0o600); err != nil {
				t.Skipf("no named pipes here: %v", err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if w, err := os.OpenFile(name, os.O_WRONLY, 0); err == nil {
					w.WriteString("A=1\n")
					w.Close()
				}
			}()
			t.Cleanup(func() {
				// Let the writer's open return, if the pipe was not read.
				if r, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
					<-done
					r.Close()
				}
			})
			_, err := Load(Options{})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "is not a regular file") {
				t.Fatalf("err = %v, want a configuration error saying %s is not a regular file", err, name)
			}
		})
	}
}
