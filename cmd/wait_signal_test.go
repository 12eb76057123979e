package cmd

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestSIGINTWhileWaitingForSQLitesWriteLock: a fetch that waits for
// SQLite's write lock, held by a run of another feed, ends at SIGINT with
// exit status 130 while the lock is still held (not after the driver's busy
// timeout), and, never having had the lock, records nothing and asks the
// feed nothing.
func TestSIGINTWhileWaitingForSQLitesWriteLock(t *testing.T) {
	dbURL := dbtest.SQLite(t)
	srv := feedtest.New()
	defer srv.Close()
	srv.SetEvents(snapshotOf(1, 2, 3), 4)
	st := dbtest.Open(t, dbURL) // migrated: the fetch has nothing to apply
	held, err := st.BeginRun(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()

	c, stderr := process(map[string]string{"TRAFFICCTL_DATABASE_URL": dbURL, "TRAFFICCTL_SOURCE_URL": srv.URL()}, "fetch")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	// The run takes its feed's lock file, then waits for the writer.
	lockFile := strings.TrimPrefix(dbURL, "sqlite:///") + "-" + store.DefaultFeed + ".lock"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(lockFile); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("fetch exited %d before it waited: %s", exitCode(err), stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Process.Kill()
			t.Fatalf("the fetch never took its feed's lock: %s", stderr)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("fetch exited %d while the writer was held: %s", exitCode(err), stderr)
	case <-time.After(500 * time.Millisecond): // well into the wait
	}

	c.Process.Signal(syscall.SIGINT)
	var code int
	select {
	case err := <-exited:
		code = exitCode(err)
	case <-time.After(4 * time.Second): // a sanity bound, not a timing
		c.Process.Kill()
		<-exited
		t.Fatalf("the fetch did not end at SIGINT while the lock was held: %s", stderr)
	}
	held.Rollback() // only now
	if code != ExitInterrupted {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	t.Logf("stderr: %s", stderr)
	var runs int
	if err := st.Runs(context.Background(), store.Filter{}, func(*store.FetchRun) error { runs++; return nil }); err != nil {
		t.Fatal(err)
	}
	if runs != 0 {
		t.Errorf("%d ledger rows, want none: the run never had the lock", runs)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the feed was asked %d times before the run had the lock", n)
	}
}
