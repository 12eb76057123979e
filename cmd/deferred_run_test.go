package cmd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestRunPastItsDeadlineWaitingForSQLitesWriteLockIsRecorded: a fetch
// whose deadline passes while a run of another feed holds SQLite's write
// lock exits 1, and its ledger row, with its real start, is written when
// the lock frees, or, if the process is gone by then, by the feed's next
// run; status and the runs export show it.
func TestRunPastItsDeadlineWaitingForSQLitesWriteLockIsRecorded(t *testing.T) {
	// Not parallel, as the other process tests: a child forked while an
	// in-process run holds a feed's lock file holds it too until it execs.
	dbURL := dbtest.SQLite(t)
	dir := filepath.Dir(strings.TrimPrefix(dbURL, "sqlite:///"))
	srv := feedtest.New()
	defer srv.Close()
	srv.SetEvents(snapshotOf(1, 2, 3), 4)
	st := dbtest.Open(t, dbURL)
	env := map[string]string{"TRAFFICCTL_DATABASE_URL": dbURL, "TRAFFICCTL_SOURCE_URL": srv.URL(), "TRAFFICCTL_SOURCE_DEADLINE": "1s"}

	// waitForDeferredRow starts a fetch while another feed's run holds
	// the lock, and returns once the fetch has kept its row for later.
	waitForDeferredRow := func(t *testing.T) (held *store.RunTx, started time.Time, exited chan int, kill func(), stderr func() string) {
		t.Helper()
		held, err := st.BeginRun(context.Background(), "other")
		if err != nil {
			t.Fatal(err)
		}
		c, errOut := process(env, "fetch")
		started = time.Now().UTC().Truncate(time.Second)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan int, 1)
		go func() { exited <- exitCode(c.Wait()) }()
		for bound := time.Now().Add(30 * time.Second); ; {
			if m, _ := filepath.Glob(filepath.Join(dir, "*.failed-*.json")); len(m) > 0 {
				break
			}
			select {
			case code := <-exited:
				held.Rollback()
				t.Fatalf("fetch exited %d without keeping its ledger row for later: %s", code, errOut)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(bound) { // a sanity bound, not a timing
				c.Process.Kill()
				held.Rollback()
				t.Fatalf("no deferred ledger row: %s", errOut)
			}
		}
		return held, started, exited, func() { c.Process.Kill() }, errOut.String
	}
	failedRuns := func(t *testing.T) []store.FetchRun {
		t.Helper()
		var runs []store.FetchRun
		st.Runs(context.Background(), store.Filter{}, func(r *store.FetchRun) error {
			if r.Status == store.RunFailed {
				runs = append(runs, *r)
			}
			return nil
		})
		return runs
	}
	checkRow := func(t *testing.T, r store.FetchRun, started time.Time) {
		t.Helper()
		if r.Feed != store.DefaultFeed || r.StartedAt.Before(started) || r.StartedAt.After(started.Add(2*time.Second)) ||
			!strings.Contains(r.Error, "wait for the database's write lock (another feed's run holds it): the run did not finish within source.deadline (1s)") {
			t.Errorf("ledger row %+v, want a failed run of %s that started at %s (within a second)", r, store.DefaultFeed, started)
		}
	}

	t.Run("when the lock frees", func(t *testing.T) {
		held, started, exited, _, stderr := waitForDeferredRow(t)
		held.Rollback()
		if code := <-exited; code != ExitFailed {
			t.Fatalf("exit %d, want 1: %s", code, stderr())
		}
		runs := failedRuns(t)
		if len(runs) != 1 {
			t.Fatalf("%d failed runs in the ledger, want 1: %s", len(runs), stderr())
		}
		checkRow(t, runs[0], started)
		if m, _ := filepath.Glob(filepath.Join(dir, "*.failed-*")); len(m) != 0 {
			t.Errorf("left behind: %v", m)
		}
	})

	t.Run("by the next run", func(t *testing.T) {
		held, started, exited, kill, _ := waitForDeferredRow(t)
		kill() // gone before the lock frees
		<-exited
		held.Rollback()
		code, _, errOut := run(t, time.Now(), "fetch", "--config", configFile(t, map[string]string{"database.url": dbURL, "source.url": srv.URL()}))
		if code != 0 {
			t.Fatalf("the next fetch: exit %d: %s", code, errOut)
		}
		runs := failedRuns(t)
		if len(runs) != 2 {
			t.Fatalf("%d failed runs in the ledger, want 2", len(runs))
		}
		checkRow(t, runs[1], started)
		code, out, errOut := run(t, time.Now(), "status", "--database-url", dbURL)
		if code != 0 || !strings.Contains(out, "runs:          3 (1 succeeded, 2 failed)") {
			t.Errorf("status: exit %d, %s\n%s", code, errOut, out)
		}
		code, out, _ = run(t, time.Now(), "export", "--table", "runs", "--database-url", dbURL)
		if code != 0 || strings.Count(out, ",failed,") != 2 {
			t.Errorf("export --table runs: exit %d\n%s", code, out)
		}
	})
}
