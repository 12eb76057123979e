//go:build unix

package export_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/export"
)

// TestToFileWritesThroughANamedPipe: -o to something that is not a
// regular file (a named pipe here; /dev/null is the same case) writes to
// it, instead of renaming a file over it.
func TestToFileWritesThroughANamedPipe(t *testing.T) {
	st := seeded(t, 3)
	path := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	n, err := export.ToFile(context.Background(), st, export.Options{Table: export.Events, Format: export.CSV}, path)
	if err != nil || n != 3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced by %v (%v)", fi.Mode(), err)
	}
	select {
	case b := <-got:
		if len(b) == 0 {
			t.Error("nothing came through the pipe")
		}
	case <-time.After(10 * time.Second):
		t.Error("nothing came through the pipe")
	}
}
