package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A SQLite run that failed waiting for the database's write lock (another
// feed's run held it past this run's deadline) cannot write its ledger row
// either. DeferFailedRun keeps the row in a file beside the database until
// RecordDeferredRuns can write it: when the lock frees, or at the next run
// of the feed, if this process is gone by then.

// deferredRun is the content of such a file.
type deferredRun struct {
	Run      RunInfo   `json:"run"`
	Reason   string    `json:"reason"`
	Finished time.Time `json:"finished"`
	path     string    // the file it was read from
}

// deferredPrefix is the start of the names of feed's deferred rows,
// "<database>-<feed>.failed-", beside the lock file "<database>-<feed>.lock".
func (s *Store) deferredPrefix(feed string) string {
	return filepath.Base(s.path) + "-" + feed + ".failed-"
}

// DeferFailedRun keeps the ledger row of a failed run in a file beside the
// SQLite database, for RecordDeferredRuns to write. On PostgreSQL, which
// has no single writer to wait for, it records the row at once.
func (s *Store) DeferFailedRun(ctx context.Context, run RunInfo, reason string, finished time.Time) error {
	if s.dialect != SQLite {
		_, err := s.RecordFailedRun(ctx, run, reason, finished)
		return err
	}
	b, err := json.Marshal(deferredRun{Run: run, Reason: reason, Finished: finished})
	if err != nil {
		return err
	}
	// Written under another name and renamed: a file cut short by a
	// crash is never read as a row.
	f, err := os.CreateTemp(filepath.Dir(s.path), s.deferredPrefix(run.Feed)+"*.json.tmp")
	if err != nil {
		return fmt.Errorf("keep the failed run's ledger row: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), strings.TrimSuffix(f.Name(), ".tmp"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("keep the failed run's ledger row: %w", err)
	}
	return nil
}

// RecordDeferredRuns writes the deferred ledger rows of feed's failed runs
// (DeferFailedRun), oldest first, waiting for the write lock for as long
// as ctx allows, and returns them. It holds the feed's run lock meanwhile,
// so that each row is written once; when a run of the feed holds it,
// there is nothing to do: that run, or the next, writes them.
func (s *Store) RecordDeferredRuns(ctx context.Context, feed string) ([]FetchRun, error) {
	if s.dialect != SQLite {
		return nil, nil
	}
	dir, prefix := filepath.Dir(s.path), s.deferredPrefix(feed)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	unlock, err := lockFeed(s.path, feed)
	if errors.Is(err, ErrLocked) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	var runs []deferredRun
	for _, name := range names {
		d := deferredRun{path: filepath.Join(dir, name)}
		b, err := os.ReadFile(d.path)
		if errors.Is(err, os.ErrNotExist) {
			continue // written by a run that held the lock before us
		}
		if err == nil {
			err = json.Unmarshal(b, &d)
		}
		if err != nil {
			return nil, fmt.Errorf("read the failed run's ledger row kept in %s: %w", name, err)
		}
		runs = append(runs, d)
	}
	slices.SortFunc(runs, func(a, b deferredRun) int { return a.Run.StartedAt.Compare(b.Run.StartedAt) })
	var recorded []FetchRun
	for i := range runs {
		d := &runs[i]
		rec, err := s.recordWhenFree(ctx, d)
		if err != nil {
			return recorded, err
		}
		recorded = append(recorded, rec)
		if err := os.Remove(d.path); err != nil {
			return recorded, err
		}
	}
	return recorded, nil
}

// recordWhenFree writes d's row, trying again while another connection
// holds the write lock, for as long as ctx allows.
func (s *Store) recordWhenFree(ctx context.Context, d *deferredRun) (FetchRun, error) {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		rec, err := s.RecordFailedRun(ctx, d.Run, d.Reason, d.Finished)
		if err == nil || !isBusy(err) {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return rec, err
		case <-time.After(wait):
		}
	}
}
