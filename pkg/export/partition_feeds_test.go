package export_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// seedTwoFeeds records runs of feeds fa and fb, taking turns, on two days.
func seedTwoFeeds(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s := dbtest.Open(t, dbURL)
	second := ledgertest.Events(t, "511/events_snapshot2.json")
	ledgertest.Seed(t, s, []ledgertest.Run{
		{At: t1, Feed: "fa", Fixtures: []string{"511/events_page1.json", "511/events_page2.json"}},
		{At: t1.Add(time.Minute), Feed: "fb", Events: second},
		{At: t1.Add(2 * time.Minute), Feed: "fa", Events: second},
		{At: t1.Add(3 * time.Minute), Feed: "fb", Fixtures: []string{"511/events_page1.json", "511/events_page2.json"}},
		{At: t1.Add(24 * time.Hour), Feed: "fb", Events: second},
	})
	return s
}

// sortedRows are rows as text, sorted: the content of a dataset whatever
// the order of its files.
func sortedRows[R any](rows []R) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r)
	}
	slices.Sort(out)
	return out
}

// parquetFiles are the paths under dir that a reader of dir/**/*.parquet
// reads, hidden folders included (as DuckDB's glob does).
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") {
			rel, _ := filepath.Rel(dir, path)
			paths = append(paths, rel)
		}
		return nil
	})
	return paths
}

// TestPartitionOfSomeFeedsKeepsTheOthers: a day holds a file per feed, and
// an export limited to some feeds replaces their files only; the dataset
// then still holds every feed's rows, once.
func TestPartitionOfSomeFeedsKeepsTheOthers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seedTwoFeeds(t, dbURL)
		for _, table := range []string{export.Snapshots, export.Runs} {
			t.Run(table, func(t *testing.T) {
				dir := t.TempDir()
				if _, err := export.ToDays(ctx, s, export.Options{Table: table}, dir); err != nil {
					t.Fatal(err)
				}
				key := export.PartitionKey(table)
				want := []string{
					key + "=2026-11-01/feed-fa.parquet", key + "=2026-11-01/feed-fb.parquet",
					key + "=2026-11-02/feed-fb.parquet",
				}
				if got := parquetFiles(t, dir); !slices.Equal(got, want) {
					t.Fatalf("files %v, want %v", got, want)
				}
				fb := filepath.Join(dir, key+"=2026-11-01", "feed-fb.parquet")
				before, _ := os.Stat(fb)

				n, err := export.ToDays(ctx, s, export.Options{Table: table, Filter: store.Filter{Feeds: []string{"fa"}}}, dir)
				if err != nil || n == 0 {
					t.Fatalf("export of fa: %d rows, %v", n, err)
				}
				if got := parquetFiles(t, dir); !slices.Equal(got, want) {
					t.Fatalf("after the export of fa: files %v, want %v", got, want)
				}
				if after, err := os.Stat(fb); err != nil || !os.SameFile(before, after) {
					t.Errorf("fb's file of the day was not kept as it was (%v)", err)
				}
				_, rows := readDays(t, dir)
				whole := parquetOf(t, s, export.Options{Table: table})
				if got, want := sortedRows(rows), sortedRows(whole.rows); !slices.Equal(got, want) {
					t.Errorf("the dataset holds %d rows, the table %d, or they differ", len(got), len(want))
				}
			})
		}
	})
}

// TestPartitionOfSomeFeedsRefusesAnOldDay: a day written by a release
// whose one file held every feed cannot be split: an export of some feeds
// refuses it and changes nothing; an export of all feeds replaces it.
func TestPartitionOfSomeFeedsRefusesAnOldDay(t *testing.T) {
	s := seedTwoFeeds(t, dbtest.SQLite(t))
	dir := t.TempDir()
	old := filepath.Join(dir, "observed_date=2026-11-01", "part-0.parquet")
	os.MkdirAll(filepath.Dir(old), 0o755)
	if err := os.WriteFile(old, []byte("every feed"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := export.ToDays(ctx, s, export.Options{Table: export.Snapshots, Filter: store.Filter{Feeds: []string{"fa"}}}, dir)
	if err == nil || !strings.Contains(err.Error(), "part-0.parquet, written by an older trafficctl with every feed in one file: export these days once without --feed") {
		t.Fatalf("err = %v", err)
	}
	if got := parquetFiles(t, dir); !slices.Equal(got, []string{"observed_date=2026-11-01/part-0.parquet"}) {
		t.Fatalf("the refused export changed the dataset: %v", got)
	}
	if _, err := export.ToDays(ctx, s, export.Options{Table: export.Snapshots}, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old file is still there after an export of every feed (%v)", err)
	}
}

// TestPartitionTemporaryFilesAreNeverRead: while an export runs, no file
// of it is where a reader of DIR/**/*.parquet looks (hidden folders
// included), so neither an export under way nor a killed one adds rows.
func TestPartitionTemporaryFilesAreNeverRead(t *testing.T) {
	s := seedTwoFeeds(t, dbtest.SQLite(t))
	dir := t.TempDir()
	checked := false
	opts := export.Options{Table: export.Snapshots, Progress: func(int64) {
		// Called last when every file is written, before any is moved.
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			t.Error("no temporary folder while the export runs")
		}
		if got := parquetFiles(t, dir); len(got) != 0 {
			t.Errorf("while the export runs, a reader of *.parquet finds %v", got)
		}
		checked = true
	}}
	if _, err := export.ToDays(ctx, s, opts, dir); err != nil || !checked {
		t.Fatalf("export: %v (checked: %v)", err, checked)
	}
}

// TestPartitionRemovesLeftovers: the temporary folders of killed exports,
// of this release and of older ones, are removed by the next export; that
// of an export under way (locked) is not.
func TestPartitionRemovesLeftovers(t *testing.T) {
	s := seedTwoFeeds(t, dbtest.SQLite(t))
	dir := t.TempDir()
	killed := filepath.Join(dir, ".trafficctl-tmp-123", "observed_date=2026-11-01", "feed-fa.parquet.partial")
	legacy := filepath.Join(dir, ".tmp-456", "observed_date=2026-11-01", "part-0.parquet")
	running := filepath.Join(dir, ".trafficctl-tmp-789")
	for _, p := range []string{killed, legacy} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("left over"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(running, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.Open(running)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := export.ToDays(ctx, s, export.Options{Table: export.Runs}, dir); err != nil {
		t.Fatal(err)
	}
	var hidden []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			hidden = append(hidden, e.Name())
		}
	}
	if !slices.Equal(hidden, []string{".trafficctl-tmp-789"}) {
		t.Errorf("hidden folders after the export: %v, want only the locked one", hidden)
	}
}

// TestPartitionThroughADanglingSymlink: -o naming a symlink to a folder
// that does not exist yet creates that folder, as for a file.
func TestPartitionThroughADanglingSymlink(t *testing.T) {
	s := seedTwoFeeds(t, dbtest.SQLite(t))
	base := t.TempDir()
	link := filepath.Join(base, "latest")
	if err := os.Symlink("datasets/2026", link); err != nil {
		t.Fatal(err)
	}
	if _, err := export.ToDays(ctx, s, export.Options{Table: export.Runs}, link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link is gone (%v)", err)
	}
	if got := parquetFiles(t, filepath.Join(base, "datasets", "2026")); len(got) != 3 {
		t.Errorf("the link's target holds %v", got)
	}
}
