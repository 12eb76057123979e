package export_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// seeded returns a SQLite store holding one run of n events.
func seeded(t *testing.T, n int) *store.Store {
	t.Helper()
	st := dbtest.Open(t, dbtest.SQLite(t))
	var events []traffic.Event
	for i := 0; i < n; i++ {
		e, _, err := open511.DecodeEvent([]byte(`{"id":"x/`+string(rune('a'+i%26))+string(rune('a'+i/26))+`","headline":"h"}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	f, err := st.BeginRun(context.Background(), store.DefaultFeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(context.Background(), store.RunInfo{StartedAt: time.Now()}, events); err != nil {
		t.Fatal(err)
	}
	return st
}

// fullDisk fails every write as a full disk does.
type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestWriteReportsAFullDisk(t *testing.T) {
	st := seeded(t, 3)
	_, err := export.Write(context.Background(), st, export.Options{Table: export.Events, Format: export.CSV}, fullDisk{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
}

func TestFailedExportLeavesNoFile(t *testing.T) {
	st := seeded(t, 600)
	dir := t.TempDir()
	path := filepath.Join(dir, "events.csv")
	if err := os.WriteFile(path, []byte("the previous export\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the export fails while streaming
	if _, err := export.ToFile(ctx, st, export.Options{Table: export.Events, Format: export.CSV}, path); err == nil {
		t.Fatal("a cancelled export succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "the previous export\n" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	// And a successful one replaces it whole.
	n, err := export.ToFile(context.Background(), st, export.Options{Table: export.Events, Format: export.CSV}, path)
	if err != nil || n != 600 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
}
