package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// decodeAll turns generated event objects into Events, as the client does.
func decodeAll(b testing.TB, objs []json.RawMessage) []traffic.Event {
	b.Helper()
	out := make([]traffic.Event, len(objs))
	for i, o := range objs {
		e, _, err := open511.DecodeEvent(o, nil)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// benchDialects runs fn per database kind with a new database each:
// SQLite always, PostgreSQL when TRAFFICCTL_TEST_DATABASE_URL is set.
func benchDialects(b *testing.B, fn func(b *testing.B, newDB func() *store.Store)) {
	b.Run("db=sqlite", func(b *testing.B) { fn(b, func() *store.Store { return dbtest.Open(b, dbtest.SQLite(b)) }) })
	b.Run("db=postgres", func(b *testing.B) { fn(b, func() *store.Store { return dbtest.Open(b, dbtest.Postgres(b)) }) })
}

// BenchmarkApplySnapshot times a fetch's database work (Start, Write, Finish: what
// a fetch does once the snapshot is decoded) for a snapshot that is all new,
// unchanged, or 1% changed since the previous run.
func BenchmarkApplySnapshot(b *testing.B) {
	type input struct {
		all  []traffic.Event
		revs [2][]traffic.Event
	}
	inputs := map[int]input{}
	for _, n := range []int{500, 10000} {
		base := feedtest.GenerateEvents(n, 7)
		// Two revisions that differ in every 100th event: alternating them
		// makes every run see 1% changed.
		inputs[n] = input{decodeAll(b, base), [2][]traffic.Event{
			decodeAll(b, feedtest.ChangeEvents(base, 7, 100, 1)),
			decodeAll(b, feedtest.ChangeEvents(base, 7, 100, 2)),
		}}
	}
	benchDialects(b, func(b *testing.B, newDB func() *store.Store) {
		for _, n := range []int{500, 10000} {
			all, revs := inputs[n].all, inputs[n].revs
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			next := func() time.Time { at = at.Add(time.Minute); return at }

			b.Run(fmt.Sprintf("events=%d/new", n), func(b *testing.B) {
				s := newDB()
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					clearTables(b, s)
					b.StartTimer()
					if run := apply(b, s, next(), all); run.EventsNew != n {
						b.Fatalf("%d new, want %d", run.EventsNew, n)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run(fmt.Sprintf("events=%d/unchanged", n), func(b *testing.B) {
				s := newDB()
				apply(b, s, next(), all)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if run := apply(b, s, next(), all); run.EventsUnchanged != n {
						b.Fatalf("%d unchanged, want %d", run.EventsUnchanged, n)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run(fmt.Sprintf("events=%d/changed=1pct", n), func(b *testing.B) {
				s := newDB()
				apply(b, s, next(), revs[1])
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if run := apply(b, s, next(), revs[i%2]); run.EventsChanged != n/100 {
						b.Fatalf("%d changed, want %d", run.EventsChanged, n/100)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	})
}

// clearTables empties the database so that the next snapshot is all new.
func clearTables(b *testing.B, s *store.Store) {
	for _, t := range []string{"event_versions", "events", "fetch_runs"} {
		if err := s.DB().Exec("DELETE FROM " + t).Error; err != nil {
			b.Fatal(err)
		}
	}
}
