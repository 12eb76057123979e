package export_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// Size of the seeded history: every event is present in every run, so the
// snapshots table has benchRuns * benchEvents rows.
const (
	benchRuns   = 1000
	benchEvents = 1000
	// Each event changes every changeEvery runs (at a point of its own), so
	// it has about benchRuns/changeEvery+1 spells: 5,000 version rows.
	changeEvery = 250
)

// seedHistory writes the ledger and spells that 1,000 fetches of 1,000
// events with a few changes each would leave, in bulk (the real Apply path
// would take minutes): the same rows, written directly.
func seedHistory(b *testing.B, dbURL string) *store.Store {
	b.Helper()
	s := dbtest.Open(b, dbURL)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	runAt := func(id int64) time.Time { return start.Add(time.Duration(id) * 5 * time.Minute) }
	runs := make([]store.FetchRun, benchRuns)
	for i := range runs {
		id := int64(i + 1)
		runs[i] = store.FetchRun{ID: id, StartedAt: runAt(id), FinishedAt: runAt(id), Status: store.RunSucceeded, Feed: store.DefaultFeed,
			SourceURL: "http://127.0.0.1/traffic/events", Pages: 2, EventsReceived: benchEvents, Version: "bench"}
	}
	objs := feedtest.GenerateEvents(benchEvents, 5)
	var events, versions []map[string]any
	for i, o := range objs {
		e, _, err := open511.DecodeEvent(o, nil)
		if err != nil {
			b.Fatal(err)
		}
		first, version := int64(1), 0
		for first <= benchRuns {
			last := (first/changeEvery+1)*changeEvery + int64(i%changeEvery)
			last = min(max(last, first), benchRuns)
			version++
			v := ledgertest.BulkRow(&e, map[string]any{"event_id": e.ID, "version": version, "first_run_id": first, "valid_from": runAt(first)})
			if last < benchRuns { // the last spell stays open, as the store keeps it
				v["last_run_id"], v["valid_to"] = last, runAt(last)
			}
			versions = append(versions, v)
			first = last + 1
		}
		events = append(events, ledgertest.EventRow(map[string]any{"id": e.ID, "first_seen_at": runAt(1), "current_version": version}))
	}
	db := s.DB()
	if err := db.CreateInBatches(&runs, 500).Error; err != nil {
		b.Fatal(err)
	}
	// Events first: the spells refer to them (a map's order failed
	// now and then on the foreign key).
	for _, table := range []struct {
		name string
		rows []map[string]any
	}{{"events", events}, {"event_versions", versions}} {
		if err := db.Table(table.name).CreateInBatches(table.rows, 200).Error; err != nil {
			b.Fatal(err)
		}
	}
	if db.Dialector.Name() == "postgres" {
		// Explicit ids leave the sequence behind; ANALYZE gives the planner
		// the row counts a real history would have given it.
		db.Exec("SELECT setval('fetch_runs_id_seq', (SELECT MAX(id) FROM fetch_runs))")
		db.Exec("ANALYZE")
	}
	return s
}

// seedEnv, when set, is the URL of an empty database the benchmark seeds
// and leaves in place, instead of a throwaway one. Select the matching
// sub-benchmark (db=sqlite or db=postgres) with -bench.
const seedEnv = "TRAFFICCTL_BENCH_SEED_URL"

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkExportSnapshots writes every past snapshot (1,000 runs of 1,000
// events: 1,000,000 rows) as CSV to a discarding writer. rows/s is the
// export's throughput (docs/benchmarks.md); MB/s is CSV bytes.
func BenchmarkExportSnapshots(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run("db="+db.name, func(b *testing.B) {
			url := db.url(b)
			if keep := os.Getenv(seedEnv); keep != "" {
				url = keep // scripts/bench-cli.sh times the binary's export of this history
			}
			s := seedHistory(b, url)
			opts := export.Options{Table: export.Snapshots, Format: export.CSV}
			var out countingWriter
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out.n = 0
				n, err := export.Write(context.Background(), s, opts, &out)
				if err != nil {
					b.Fatal(err)
				}
				if n != benchRuns*benchEvents {
					b.Fatalf("%d rows, want %d", n, benchRuns*benchEvents)
				}
			}
			b.SetBytes(out.n)
			b.ReportMetric(float64(benchRuns*benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
