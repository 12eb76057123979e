package store_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// churnStart is when run 1 starts; run k starts k-1 minutes later.
var churnStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// churn is what run k serves: id -> headline. Every run changes about a
// third of the ten events and drops or brings back a few, so that every
// commit starts and ends spells and opens and closes events.
func churn(k int64) map[string]string {
	out := map[string]string{}
	for i := int64(0); i < 10; i++ {
		if (i*7+k)%4 != 0 {
			out[fmt.Sprintf("test.org/%d", i)] = fmt.Sprintf("Incident %d rev %d", i, (k+i)/3)
		}
	}
	return out
}

func churnEvents(t *testing.T, k int64) []traffic.Event {
	var events []traffic.Event
	for id, headline := range churn(k) {
		e, _, err := open511.DecodeEvent([]byte(fmt.Sprintf(`{"id":%q,"headline":%q}`, id, headline)), nil)
		if err != nil {
			t.Error(err)
		}
		events = append(events, e)
	}
	return events
}

// TestExportsAreConsistentWhileFetching runs fetches and exports side by
// side for a few seconds and checks every export against what each run
// served: whatever commits during an export, it is one state of the
// database (never, say, a spell with first_run_id > last_run_id because a
// run committed between reading the latest runs and the spells).
func TestExportsAreConsistentWhileFetching(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		// A pause after each read of the ledger (an export's first query)
		// widens the moment in which a commit could fall between it and
		// the export's other queries: without one read transaction, one
		// of the first few dozen exports then shows two states of the
		// database.
		err := s.DB().Callback().Row().After("gorm:row").Register("test:pause_after_ledger", func(db *gorm.DB) {
			if strings.Contains(db.Statement.SQL.String(), "FROM fetch_runs") {
				time.Sleep(2 * time.Millisecond)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		const maxRuns, maxExports = 400, 600
		stop := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		var fetchErr error
		runs := int64(0)
		wg.Add(1)
		go func() { // the fetch loop
			defer wg.Done()
			for k := int64(1); k <= maxRuns && time.Now().Before(stop) && !t.Failed(); k++ {
				f, err := s.BeginRun(ctx, store.DefaultFeed)
				if err != nil {
					fetchErr = err
					return
				}
				rec, err := f.Apply(ctx, store.RunInfo{Feed: store.DefaultFeed, StartedAt: churnStart.Add(time.Duration(k-1) * time.Minute)}, churnEvents(t, k))
				if err == nil && rec.ID != k {
					err = fmt.Errorf("run %d got id %d", k, rec.ID)
				}
				if err != nil {
					fetchErr = err
					return
				}
				runs = k
			}
		}()
		exports := 0
		tables := []string{export.Versions, export.Events, export.Snapshots}
		for ; exports < maxExports && time.Now().Before(stop) && !t.Failed(); exports++ {
			table := tables[exports%len(tables)]
			var buf bytes.Buffer
			if _, err := export.Write(ctx, s, export.Options{Table: table, Format: export.JSONL}, &buf); err != nil {
				t.Fatalf("export %d (%s): %v", exports, table, err)
			}
			checkExport(t, exports, table, &buf)
		}
		wg.Wait()
		if fetchErr != nil {
			t.Fatal(fetchErr)
		}
		t.Logf("%d runs, %d exports", runs, exports)
		if runs < 3 || exports < 3 {
			t.Fatalf("only %d runs and %d exports: nothing overlapped", runs, exports)
		}
	})
}

// exportRow has the columns of the three tables that the checks use.
type exportRow struct {
	ID          string     `json:"id"`
	EventID     string     `json:"event_id"`
	Headline    string     `json:"headline"`
	RunID       int64      `json:"run_id"`
	FirstRunID  int64      `json:"first_run_id"`
	LastRunID   int64      `json:"last_run_id"`
	ObservedAt  time.Time  `json:"observed_at"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	LastSeenAt  time.Time  `json:"last_seen_at"`
	ValidFrom   time.Time  `json:"valid_from"`
	ValidTo     time.Time  `json:"valid_to"`
	ClosedAt    *time.Time `json:"closed_at"`
}

// runAt is the run that started at t.
func runAt(t time.Time) int64 { return int64(t.Sub(churnStart)/time.Minute) + 1 }

func checkExport(t *testing.T, n int, table string, jsonl *bytes.Buffer) {
	t.Helper()
	var rows []exportRow
	sc := bufio.NewScanner(jsonl)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r exportRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export %d (%s): %v", n, table, err)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return // before the first commit
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("export %d (%s): %s", n, table, fmt.Sprintf(format, args...))
	}
	// got[run] is the snapshot the export shows for each run.
	got := map[int64]map[string]string{}
	at := func(run int64) map[string]string {
		if got[run] == nil {
			got[run] = map[string]string{}
		}
		return got[run]
	}
	var latest int64
	switch table {
	case export.Versions:
		for _, r := range rows {
			if r.FirstRunID > r.LastRunID || r.ValidFrom.After(r.ValidTo) {
				fail("spell of %s: runs %d to %d, %s to %s", r.EventID, r.FirstRunID, r.LastRunID, r.ValidFrom, r.ValidTo)
			}
			if runAt(r.ValidFrom) != r.FirstRunID || runAt(r.ValidTo) != r.LastRunID {
				fail("spell of %s: runs %d to %d, but from %s to %s", r.EventID, r.FirstRunID, r.LastRunID, r.ValidFrom, r.ValidTo)
			}
			latest = max(latest, r.LastRunID)
			for run := r.FirstRunID; run <= r.LastRunID; run++ {
				if _, twice := at(run)[r.EventID]; twice {
					fail("two spells of %s cover run %d", r.EventID, run)
				}
				at(run)[r.EventID] = r.Headline
			}
		}
	case export.Events:
		// Open events end at the latest run, and are exactly its snapshot;
		// closed ones were last seen before it.
		for _, r := range rows {
			latest = max(latest, runAt(r.LastSeenAt))
		}
		for _, r := range rows {
			if r.FirstSeenAt.After(r.LastSeenAt) {
				fail("event %s first seen %s, last seen %s", r.ID, r.FirstSeenAt, r.LastSeenAt)
			}
			switch seen := runAt(r.LastSeenAt); {
			case r.ClosedAt == nil && seen != latest:
				fail("open event %s last seen in run %d, not the latest, %d", r.ID, seen, latest)
			case r.ClosedAt != nil && seen >= latest:
				fail("event %s closed in run %d but last seen in run %d", r.ID, runAt(*r.ClosedAt), seen)
			case r.ClosedAt == nil:
				at(latest)[r.ID] = r.Headline
			}
		}
		got = map[int64]map[string]string{latest: at(latest)}
	case export.Snapshots:
		for _, r := range rows {
			if runAt(r.ObservedAt) != r.RunID {
				fail("run %d observed at %s", r.RunID, r.ObservedAt)
			}
			latest = max(latest, r.RunID)
			at(r.RunID)[r.ID] = r.Headline
		}
	}
	if table != export.Events && int64(len(got)) != latest {
		fail("%d runs rebuilt, want runs 1 to %d", len(got), latest)
	}
	for run, snap := range got {
		if want := churn(run); !maps.Equal(snap, want) {
			fail("run %d (latest %d) shows %v, served %v", run, latest, snap, want)
		}
	}
}
