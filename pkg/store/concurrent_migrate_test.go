package store_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// Ten first runs at once on a new database (cron and a hand-started fetch,
// say) all open and migrate it: lock contention waits its turn instead of
// failing. SQLite gets a few rounds, each on a new file: the contention is
// on its switch to WAL, which lasts a moment.
func TestConcurrentFirstMigrationsAllSucceed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		for round := 0; round < 10 && !t.Failed(); round++ {
			firstRunsAtOnce(t, dbtest.SQLite(t))
		}
	})
	t.Run("postgres", func(t *testing.T) { firstRunsAtOnce(t, dbtest.Postgres(t)) })
}

func firstRunsAtOnce(t *testing.T, dbURL string) {
	const n = 10
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < n; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			s, err := store.Open(ctx, dbURL)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			_, errs[i] = s.Migrate(ctx)
		}()
	}
	start.Done()
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
}

// holdWriteLock takes SQLite's write lock on the file at dbURL, as another
// trafficctl's run does, until the returned function is called.
func holdWriteLock(t *testing.T, dbURL string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+strings.TrimPrefix(dbURL, "sqlite:///"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// Opening a new SQLite file switches it to WAL, which SQLite refuses at
// once, without waiting, while another connection holds the write lock:
// Open waits for it instead.
func TestOpenWaitsForTheSwitchToWAL(t *testing.T) {
	dbURL := dbtest.SQLite(t)
	release := holdWriteLock(t, dbURL) // on a new file, still in rollback-journal mode
	opened := make(chan error, 1)
	go func() {
		s, err := store.Open(ctx, dbURL)
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	time.Sleep(300 * time.Millisecond) // Open is under way (it failed at once before waiting was added)
	release()
	if err := <-opened; err != nil {
		t.Fatalf("Open while another connection held the lock: %v", err)
	}
}

// Another trafficctl holds the write lock past SQLite's busy timeout (5 s)
// while this one has a migration to apply (a first fetch migrated and now
// runs, or an older release's fetch runs): Migrate waits its turn.
func TestMigrateWaitsPastTheBusyTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a lock for 6 s")
	}
	dbURL := dbtest.SQLite(t)
	s, err := store.Open(ctx, dbURL) // the file exists, in WAL mode, not migrated
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release := holdWriteLock(t, dbURL)
	migrated := make(chan error, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, time.Minute) // bounds the test, not the assertion
		defer cancel()
		_, err := s.Migrate(c)
		migrated <- err
	}()
	time.Sleep(6 * time.Second) // longer than the busy timeout
	release()
	if err := <-migrated; err != nil {
		t.Fatalf("Migrate while another trafficctl held the lock for 6 s: %v", err)
	}
	if m, err := s.Migrations(ctx); err != nil || len(m.Pending) != 0 {
		t.Fatalf("after Migrate: %+v, %v", m, err)
	}
}
