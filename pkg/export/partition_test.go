package export_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// days are the UTC days of the runs seedDays records.
var days = []string{"2026-11-01", "2026-11-02", "2026-11-03"}

// seedDays records runs on three UTC days, two of them a minute either
// side of midnight, and a failed run on the first day.
func seedDays(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s := dbtest.Open(t, dbURL)
	second := ledgertest.Events(t, "511/events_snapshot2.json")
	ledgertest.Seed(t, s, []ledgertest.Run{
		{At: t1, Fixtures: []string{"511/events_page1.json", "511/events_page2.json"}},
		{At: t1.Add(10 * time.Minute), Fail: "fetch page 1 of http://feed.test/traffic/events: 503 Service Unavailable"},
		{At: time.Date(2026, 11, 2, 23, 59, 0, 0, time.UTC), Events: second},
		{At: time.Date(2026, 11, 3, 0, 1, 0, 0, time.UTC), Events: second},
	})
	return s
}

// readDays reads back a partitioned dataset: the rows of each day's
// folder, in day order, and the folder names.
func readDays(t *testing.T, dir string) (folders []string, rows []parquet.Row) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		folders = append(folders, e.Name())
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, e.Name()))
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			pq := readParquet(t, b)
			day := strings.TrimPrefix(e.Name(), export.PartitionKey(export.Snapshots)+"=")
			day = strings.TrimPrefix(day, export.PartitionKey(export.Runs)+"=")
			at := slices.IndexFunc(pq.names, func(n string) bool { return n == "observed_at" || n == "started_at" })
			for _, r := range pq.rows {
				if got := time.UnixMicro(r[at].Int64()).UTC().Format(time.DateOnly); got != day {
					t.Errorf("%s/%s holds a row of %s", e.Name(), f.Name(), got)
				}
			}
			rows = append(rows, pq.rows...)
		}
	}
	return folders, rows
}

func TestPartitionByDay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seedDays(t, dbURL)
		for _, c := range []struct {
			table, key string
			days       []string
		}{
			{export.Snapshots, "observed_date", days},
			{export.Runs, "started_date", days},
		} {
			t.Run(c.table, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "dataset")
				n, err := export.ToDays(ctx, s, export.Options{Table: c.table}, dir)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, d := range c.days {
					want = append(want, c.key+"="+d)
				}
				folders, rows := readDays(t, dir)
				if !reflect.DeepEqual(folders, want) {
					t.Fatalf("folders %v, want %v", folders, want)
				}
				for _, f := range want {
					if files, _ := os.ReadDir(filepath.Join(dir, f)); len(files) != 1 || files[0].Name() != "feed-default.parquet" {
						t.Errorf("%s holds %v, want feed-default.parquet", f, files)
					}
				}
				// Together, the days are the single file's rows.
				whole := parquetOf(t, s, export.Options{Table: c.table})
				if int(n) != len(whole.rows) || !reflect.DeepEqual(rows, whole.rows) {
					t.Errorf("%d rows in the days (n=%d), %d in one file, or they differ", len(rows), n, len(whole.rows))
				}
			})
		}
	})
}

func TestPartitionReexportReplacesTheDay(t *testing.T) {
	s := seedDays(t, dbtest.SQLite(t))
	dir := t.TempDir()
	opts := export.Options{Table: export.Snapshots}
	if _, err := export.ToDays(ctx, s, opts, dir); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "observed_date="+days[0])
	other := filepath.Join(dir, "observed_date="+days[1], "feed-default.parquet")
	old := filepath.Join(dir, "observed_date=2020-01-01", "part-0.parquet")
	stale := filepath.Join(first, "feed-default.1.parquet")
	for _, p := range []string{old, stale} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("not this export's"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.Stat(other)
	wantFirst, _ := os.ReadFile(filepath.Join(first, "feed-default.parquet"))

	// A failed export leaves everything as it was.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := export.ToDays(cancelled, s, opts, dir); err == nil {
		t.Fatal("a cancelled export succeeded")
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("a failed export changed the first day")
	}

	// The first day again: its folder is replaced whole; the others stay.
	opts.Filter = store.Filter{Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	if _, err := export.ToDays(ctx, s, opts, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a file of the old first day is still there (%v)", err)
	}
	if got, _ := os.ReadFile(filepath.Join(first, "feed-default.parquet")); !reflect.DeepEqual(got, wantFirst) {
		t.Error("the first day exported again differs from its first export")
	}
	if after, err := os.Stat(other); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("another day was rewritten (%v)", err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("a day the export did not cover was removed (%v)", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

func TestPartitionOnlySnapshotsAndRuns(t *testing.T) {
	s := seedDays(t, dbtest.SQLite(t))
	for _, table := range []string{export.Events, export.Versions} {
		if _, err := export.ToDays(ctx, s, export.Options{Table: table}, t.TempDir()); err == nil {
			t.Errorf("%s partitioned by day", table)
		}
	}
}
