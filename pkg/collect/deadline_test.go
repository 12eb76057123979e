package collect_test

import (
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// A PostgreSQL run that source.deadline ends while a statement waits says
// so: the error was pgx's "timeout: context deadline exceeded" alone, as
// "end spells: timeout: ...". The run's writes of spells, in Finish, wait
// for a lock the test holds on event_versions until the run has returned,
// so the deadline always ends it there.
func TestPostgresRunPastItsDeadlineNamesSourceDeadline(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.Postgres(t)
	h := newHarness(t, dbURL)
	if _, err := h.st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.srv.SetEvents([]json.RawMessage{json.RawMessage(`{"id":"e1","headline":"h"}`)}, 0)
	holder := dbtest.Open(t, dbURL)
	tx := holder.DB().Begin()
	defer tx.Rollback()
	// SHARE lets the run read (its lock, the ledger, the open events) and
	// write events, and makes its first write of spells wait.
	if err := tx.Exec("LOCK TABLE event_versions IN SHARE MODE").Error; err != nil {
		t.Fatal(err)
	}
	now := h.clock
	_, err := collect.Run(ctx, collect.Params{
		Feed:     &open511.Feed{URL: h.srv.URL(), Source: &source.Client{Timeout: 5 * time.Second}},
		FeedName: store.DefaultFeed, Store: h.st, Now: func() time.Time { return now }, Version: "test",
		SourceURL: h.srv.URL(), Deadline: 500 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "source.deadline (500ms)") {
		t.Fatalf("err = %v, want it to name source.deadline", err)
	}
	tx.Rollback()
	var runs []store.FetchRun
	h.st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error { runs = append(runs, *r); return nil })
	if len(runs) != 1 || !strings.Contains(runs[0].Error, "source.deadline") {
		t.Errorf("ledger %+v, want one failed run whose error names source.deadline", runs)
	}
}

// TestDeadlineCoversMigrating: a run whose migration must wait (another
// process holds SQLite's write lock, or PostgreSQL's migration lock) gives
// up at its deadline, saying so, and applies nothing. The lock is let go
// after ten seconds: a run that waited past its deadline would migrate
// then.
func TestDeadlineCoversMigrating(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := openStore(t, dbURL)
		release := holdMigrationLock(t, st, dbURL)
		letGo := time.AfterFunc(10*time.Second, release)
		t.Cleanup(func() { letGo.Stop(); release() })

		srv := feedtest.New()
		t.Cleanup(srv.Close)
		srv.SetEvents(eventsOfSnapshot(t, 0), 20)
		_, err := collect.Run(ctx, collect.Params{
			Feed:     &open511.Feed{URL: srv.URL(), Source: &source.Client{}},
			FeedName: store.DefaultFeed, Store: st, Now: time.Now, SourceURL: srv.URL(),
			Deadline: 300 * time.Millisecond,
		})
		if err == nil || !strings.Contains(err.Error(), "within source.deadline (300ms)") {
			t.Fatalf("run while another holds the lock: %v", err)
		}
		if m, err := st.Migrations(ctx); err != nil || len(m.Applied) != 0 {
			t.Fatalf("applied %v (%v) after the deadline", m.Applied, err)
		}
	})
}

// holdMigrationLock takes, on a connection of its own, what a migration
// waits for, and returns what lets it go.
func holdMigrationLock(t *testing.T, st *store.Store, dbURL string) (release func()) {
	t.Helper()
	var conn *sql.Conn
	var err error
	var hold, free string
	if strings.HasPrefix(dbURL, "sqlite") {
		// A separate pool: the store's connections would wait for this one.
		db, err := sql.Open("sqlite3", "file:"+strings.TrimPrefix(dbURL, "sqlite:///"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		conn, err = db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hold, free = "BEGIN IMMEDIATE", "ROLLBACK"
	} else {
		sqlDB, _ := st.DB().DB()
		if conn, err = sqlDB.Conn(ctx); err != nil {
			t.Fatal(err)
		}
		// The store's migration lock key (pkg/store/migrate.go).
		hold, free = "SELECT pg_advisory_lock(5110001)", "SELECT pg_advisory_unlock(5110001)"
	}
	if _, err := conn.ExecContext(ctx, hold); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			conn.ExecContext(ctx, free)
			conn.Close()
		})
	}
}
