// Command days writes a synthetic stretch of collection into a database
// through the store's run API, with no HTTP and no decoding per run: each
// run is one snapshot of -events generated 511-shaped events, -change of
// them changed since the previous run (each event changes every
// events/change runs, each time to new content), taken -every apart. It
// prints the database's size at the end, for comparing how builds store
// the same history (docs/benchmarks.md). With -vacuum N it runs VACUUM
// after every N runs: on PostgreSQL, what autovacuum does between runs
// minutes apart, which a stretch written in minutes leaves no time for.
//
//	go run ./internal/feedtest/days -db sqlite:///thirty.db -runs 4320
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

func main() {
	dbURL := flag.String("db", "", "database URL")
	runs := flag.Int("runs", 4320, "runs (4,320 = 30 days of 10-minute runs)")
	events := flag.Int("events", 2000, "events in each snapshot")
	change := flag.Int("change", 40, "events changed in each run")
	every := flag.Duration("every", 10*time.Minute, "time between runs")
	profile := flag.String("cpuprofile", "", "write a CPU profile here")
	vacuum := flag.Int("vacuum", 0, "run VACUUM after every this many runs (0: never)")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*dbURL, *runs, *events, *change, *every, *vacuum); err != nil {
		fmt.Fprintln(os.Stderr, err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func decode(obj []byte) traffic.Event {
	e, _, err := open511.DecodeEvent(obj, time.UTC)
	if err != nil {
		panic(err) // generated events always decode
	}
	return e
}

func run(dbURL string, runs, n, change int, every time.Duration, vacuum int) error {
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	snap := make([]traffic.Event, n)
	for i, obj := range feedtest.GenerateEvents(n, 7) {
		snap[i] = decode(obj)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	began := time.Now()
	for r := 0; r < runs; r++ {
		if r > 0 {
			for k := 0; k < change; k++ {
				i := ((r-1)*change + k) % n
				snap[i] = decode(feedtest.GenerateEvent(i, 7, uint64(r)))
			}
		}
		at := start.Add(time.Duration(r) * every)
		tx, err := st.BeginRun(ctx, store.DefaultFeed)
		if err != nil {
			return err
		}
		info := store.RunInfo{Feed: store.DefaultFeed, StartedAt: at, FinishedAt: at.Add(time.Second), Version: "days", Pages: 1, Received: n}
		page := append([]traffic.Event(nil), snap...)
		if _, err := tx.Apply(ctx, info, page); err != nil {
			tx.Rollback()
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		if vacuum > 0 && (r+1)%vacuum == 0 {
			if err := st.DB().Exec("VACUUM").Error; err != nil {
				return err
			}
		}
	}
	fmt.Printf("%d runs of %d events, %d changed a run, in %s\n", runs, n, change, time.Since(began).Round(time.Millisecond))
	return nil
}
