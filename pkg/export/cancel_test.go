package export_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestCancelledCountsExportStops: counts are computed, not read, so no
// database driver notices a cancelled context; the export itself must
// stop, and leave neither the file nor its temporary file (the process
// cancels on SIGINT and SIGTERM).
func TestCancelledCountsExportStops(t *testing.T) {
	st := seeded(t, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "counts.csv")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := errors.New("stop")
	var rowsAtCancel int64
	opts := export.Options{
		Table:  export.Counts,
		Format: export.CSV,
		Series: store.Series{Every: time.Second},
		// 500,000 intervals before the run.
		Filter: store.Filter{Since: time.Now().Add(-500000 * time.Second)},
		Progress: func(n int64) {
			if rowsAtCancel == 0 {
				rowsAtCancel = n
				cancel(stop)
			}
		},
	}
	n, err := export.ToFile(ctx, st, opts, path)
	if !errors.Is(err, stop) {
		t.Fatalf("wrote %d rows, err = %v; want the export stopped by the cancel", n, err)
	}
	if n > rowsAtCancel+1024 {
		t.Errorf("wrote %d rows, the last %d after the context was cancelled", n, n-rowsAtCancel)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestCountsRefuseTooManyIntervals: a series longer than MaxIntervals is
// refused before any row is written.
func TestCountsRefuseTooManyIntervals(t *testing.T) {
	st := seeded(t, 3)
	var out countingWriter
	// One more than the limit (not 1970 on: without the limit, this
	// test would write for hours).
	since := time.Now().Truncate(time.Second).Add(-store.MaxIntervals * time.Second)
	opts := export.Options{Table: export.Counts, Format: export.CSV, Series: store.Series{Every: time.Second},
		Filter: store.Filter{Since: since, Until: since.Add((store.MaxIntervals + 1) * time.Second)}}
	_, err := export.Write(context.Background(), st, opts, &out)
	var tooMany *store.TooManyIntervalsError
	if !errors.As(err, &tooMany) || tooMany.Feed != store.DefaultFeed || tooMany.Intervals != store.MaxIntervals+1 {
		t.Fatalf("err = %v, want a TooManyIntervalsError of MaxIntervals+1 intervals", err)
	}
	if out.n > 0 {
		t.Errorf("%d bytes written before the refusal", out.n)
	}
	// At the limit it is written.
	opts.Filter.Until = since.Add(store.MaxIntervals * time.Second)
	if n, err := export.Write(context.Background(), st, opts, &out); err != nil || n != store.MaxIntervals {
		t.Fatalf("a series of MaxIntervals: %d rows, %v", n, err)
	}
}

// stalled is a reader that stopped reading: its first Write says so on
// blocked, and no Write ever returns.
type stalled struct{ blocked chan struct{} }

func (s stalled) Write([]byte) (int, error) {
	close(s.blocked)
	select {}
}

// TestCancelledExportDoesNotWaitForItsReader: an export blocked writing
// to a reader that stopped reading, or opening a FIFO that no one opens,
// returns when its context is cancelled (as SIGINT and SIGTERM do).
func TestCancelledExportDoesNotWaitForItsReader(t *testing.T) {
	st := seeded(t, 3)
	opts := export.Options{Table: export.Counts, Format: export.CSV, Series: store.Series{Every: time.Second},
		Filter: store.Filter{Since: time.Now().Add(-500000 * time.Second)}}
	returns := func(what string, write func(ctx context.Context) error, cancelWhen <-chan struct{}) {
		t.Helper()
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("stop")
		done := make(chan error, 1)
		go func() { done <- write(ctx) }()
		<-cancelWhen
		cancel(stop)
		select {
		case err := <-done:
			if !errors.Is(err, stop) {
				t.Errorf("%s: err = %v, want the cancel's cause", what, err)
			}
		case <-time.After(10 * time.Second): // a sanity bound, not a timing
			t.Errorf("%s: still blocked after the context was cancelled", what)
		}
	}

	w := stalled{make(chan struct{})}
	returns("a stalled reader", func(ctx context.Context) error {
		_, err := export.Write(ctx, st, opts, w)
		return err
	}, w.blocked)

	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	now := make(chan struct{})
	close(now) // cancelled at once: whether before the open or during it, it must not wait
	returns("a FIFO no one opens", func(ctx context.Context) error {
		_, err := export.ToFile(ctx, st, opts, fifo)
		return err
	}, now)
}
