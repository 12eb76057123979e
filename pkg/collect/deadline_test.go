package collect_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
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
