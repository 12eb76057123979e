//go:build unix

package export_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
)

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExportParquet writes the snapshots of BenchmarkExportSnapshots
// (1,000,000 rows) as CSV and as Parquet, from the same database, to a
// discarding writer: rows/s of each, and the file size in bytes/row.
// Parquet's target is half CSV's rows/s or better. rows/cpu-s divides by
// this process's CPU time instead of the wall clock: on a shared machine
// it moves less (a PostgreSQL server's own time is not in it).
func BenchmarkExportParquet(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run("db="+db.name, func(b *testing.B) {
			s := seedHistory(b, db.url(b))
			for _, format := range []export.Format{export.CSV, export.Parquet} {
				b.Run("format="+string(format), func(b *testing.B) {
					opts := export.Options{Table: export.Snapshots, Format: format}
					var out countingWriter
					b.ReportAllocs()
					b.ResetTimer()
					cpu := cpuTime()
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
					cpu = cpuTime() - cpu
					rows := float64(benchRuns*benchEvents) * float64(b.N)
					b.SetBytes(out.n)
					b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
					b.ReportMetric(rows/cpu.Seconds(), "rows/cpu-s")
					b.ReportMetric(float64(out.n)/float64(benchRuns*benchEvents), "bytes/row")
				})
			}
		})
	}
}
