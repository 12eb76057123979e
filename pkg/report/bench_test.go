package report_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/report"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// A 30-day history of benchEvents events (a fifth of them lines). Event i
// is present from run start(i) to run end(i), changes every 150 runs, and
// closes when it ends before the last run.
const (
	benchEvents = 2000
	benchDays   = 30
)

func benchStart(i int) int64         { return 1 + int64(i*37)%125 }
func benchEnd(i int, runs int) int64 { return int64(runs) - int64(i*53)%125 }

// seedMonth writes the ledger, events and spells that runs fetches spread
// over 30 days would leave, in bulk (the real fetch path would take
// minutes), and returns the number of snapshot rows they make.
func seedMonth(tb testing.TB, dbURL string, runs int) (*store.Store, int) {
	tb.Helper()
	s := dbtest.Open(tb, dbURL)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	step := benchDays * 24 * time.Hour / time.Duration(runs)
	runAt := func(id int64) time.Time { return start.Add(time.Duration(id-1) * step).Truncate(time.Second) }
	ledger := make([]store.FetchRun, runs)
	for i := range ledger {
		id := int64(i + 1)
		ledger[i] = store.FetchRun{ID: id, StartedAt: runAt(id), FinishedAt: runAt(id).Add(2 * time.Second), Status: store.RunSucceeded,
			Feed: store.DefaultFeed, SourceURL: "http://127.0.0.1/traffic/events", Pages: 4, EventsReceived: benchEvents, Version: "bench"}
	}
	var events, versions []map[string]any
	rows := 0
	for i, o := range feedtest.GenerateEvents(benchEvents, 7) {
		e, _, err := open511.DecodeEvent(o, nil)
		if err != nil {
			tb.Fatal(err)
		}
		// Every event has a spell, where its content is: with few runs
		// benchStart can come after the last run, and benchEnd before benchStart.
		first := min(benchStart(i), int64(runs))
		end := max(benchEnd(i, runs), first)
		rows += int(end - first + 1)
		version := 0
		for from := first; from <= end; {
			last := min((from/150+1)*150+int64(i%150), end)
			version++
			v := ledgertest.BulkRow(&e, map[string]any{"event_id": e.ID, "version": version, "first_run_id": from, "valid_from": runAt(from)})
			if last < int64(runs) { // the spell of an event in the last run stays open
				v["last_run_id"], v["valid_to"] = last, runAt(last)
			}
			versions = append(versions, v)
			from = last + 1
		}
		ev := ledgertest.EventRow(map[string]any{"id": e.ID, "first_seen_at": runAt(first), "current_version": version})
		if end < int64(runs) {
			ev["last_seen_at"], ev["closed_at"] = runAt(end), runAt(end+1)
		}
		events = append(events, ev)
	}
	db := s.DB()
	if err := db.CreateInBatches(&ledger, 500).Error; err != nil {
		tb.Fatal(err)
	}
	// Events first: the spells refer to them.
	if err := db.Table("events").CreateInBatches(events, 200).Error; err != nil {
		tb.Fatal(err)
	}
	if err := db.Table("event_versions").CreateInBatches(versions, 200).Error; err != nil {
		tb.Fatal(err)
	}
	if db.Dialector.Name() == "postgres" {
		db.Exec("SELECT setval('fetch_runs_id_seq', (SELECT MAX(id) FROM fetch_runs))")
		db.Exec("ANALYZE")
	}
	return s, rows
}

// maxReportBytes is the largest report a 30-day, 2,000-event history may give.
const maxReportBytes = 5 << 20

// TestReportSizeOfAMonth renders a 30-day history of 2,000 events fetched
// every 6 hours and checks the page is at most 5 MB. (The page's size
// grows with events, not with runs: BenchmarkReport's hourly history of
// the same events gives a page of about the same size.)
func TestReportSizeOfAMonth(t *testing.T) {
	st, _ := seedMonth(t, dbtest.SQLite(t), 4*benchDays)
	d, err := report.Load(context.Background(), st, report.Options{Now: time.Now(), Tiles: report.DefaultTiles})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	if len(d.Events) != benchEvents || buf.Len() > maxReportBytes {
		t.Errorf("%d events, a page of %d bytes; want %d events in at most %d", len(d.Events), buf.Len(), benchEvents, maxReportBytes)
	}
	t.Logf("a page of %.2f MB", float64(buf.Len())/(1<<20))
}

// seedEnv, when set, is the URL of an empty database that BenchmarkReport
// seeds and leaves in place (scripts/bench-report.sh times the binary on it).
const seedEnv = "TRAFFICCTL_BENCH_SEED_URL"

// BenchmarkReport reads and renders a 30-day history of 2,000 events over
// 500 runs: 1,000,000 snapshot rows (counts sweeps them all).
func BenchmarkReport(b *testing.B) {
	url := dbtest.SQLite(b)
	if keep := os.Getenv(seedEnv); keep != "" {
		url = keep
	}
	st, rows := seedMonth(b, url, 500+62*2)
	var size int64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, err := report.Load(context.Background(), st, report.Options{Now: time.Now(), Tiles: report.DefaultTiles})
		if err != nil {
			b.Fatal(err)
		}
		cw := &countingWriter{}
		if err := report.Render(cw, d); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(rows), "snapshot-rows")
	b.ReportMetric(float64(size)/(1<<20), "MB-page")
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
