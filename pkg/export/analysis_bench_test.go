package export_test

import (
	"context"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// BenchmarkExportAnalysis writes the lifetimes (1,000 events, 5,000
// spells) and an hourly counts series by event type (a sweep of all
// 1,000,000 snapshot rows) of seedHistory's 1,000 runs, as CSV.
func BenchmarkExportAnalysis(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run("db="+db.name, func(b *testing.B) {
			s := seedHistory(b, db.url(b))
			for _, opts := range []export.Options{
				{Table: export.Lifetimes},
				{Table: export.Counts, Series: store.Series{Every: time.Hour, By: store.ByEventType}},
			} {
				b.Run("table="+opts.Table, func(b *testing.B) {
					var out countingWriter
					b.ReportAllocs()
					for b.Loop() {
						out.n = 0
						if _, err := export.Write(context.Background(), s, opts, &out); err != nil {
							b.Fatal(err)
						}
					}
					b.SetBytes(out.n)
				})
			}
		})
	}
}
