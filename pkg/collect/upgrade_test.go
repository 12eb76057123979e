package collect_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// The release before feeds (schema 0001_initial) fetched the first ten real
// 2021 snapshots into testdata/upgrade/release-0001.db and exported their
// snapshots as release-0001-snapshots.csv (scripts/upgrade-fixture.sh).
// release-0001-scheduled.db holds the 511 fixtures with schedules (the
// real 2021 snapshots have none): two runs, page1+page2 then snapshot2.
const (
	releaseDB          = "../../testdata/upgrade/release-0001.db"
	releaseSnapshots   = "../../testdata/upgrade/release-0001-snapshots.csv"
	releaseScheduledDB = "../../testdata/upgrade/release-0001-scheduled.db"
)

// TestUpgradeFromTheReleaseBeforeFeeds migrates a database the previous
// release made, checks that its snapshots export the same rows (now with
// feed "default" and the schedule columns), then fetches the other ten
// snapshots: the spells go on as in a database that had all twenty from
// the start, with not one spurious change.
func TestUpgradeFromTheReleaseBeforeFeeds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := releaseDatabase(t, releaseDB, dbURL)
		applied, err := st.Migrate(ctx)
		if err != nil || !reflect.DeepEqual(applied, []string{"0002_feeds", "0003_views", "0004_content_in_spells", "0005_ledger_index", "0006_vocabulary"}) {
			t.Fatalf("migrate applied %v, %v; want 0002_feeds to 0006_vocabulary", applied, err)
		}

		// The same snapshot rows as the release exported, with feed first
		// and starts_at/ends_at, category, impact, road and direction added
		// (these from raw: TestVocabularyFromRawIsTheDecoders').
		before := readCSV(t, mustOpen(t, releaseSnapshots))
		after := exportCSV(t, st, export.Snapshots)
		if len(after) != len(before) || len(before) < 100 {
			t.Fatalf("%d snapshot rows after the upgrade, %d before", len(after), len(before))
		}
		for i := range before {
			row := after[i]
			if row["feed"] != store.DefaultFeed {
				t.Fatalf("row %d: feed %q", i, row["feed"])
			}
			delete(row, "feed")
			delete(row, "starts_at")
			delete(row, "ends_at")
			if row["category"] != map[string]string{"CONSTRUCTION": "construction", "INCIDENT": "incident"}[row["event_type"]] || row["impact"] != "unknown" {
				t.Fatalf("row %d: %s is %s with impact %s", i, row["event_type"], row["category"], row["impact"])
			}
			for _, c := range []string{"category", "impact", "road", "direction"} {
				delete(row, c)
			}
			if !reflect.DeepEqual(row, before[i]) {
				t.Fatalf("row %d changed:\n got %v\nwant %v", i, row, before[i])
			}
		}

		// The other ten snapshots continue the same spells.
		last := lastRunStart(t, st)
		upgraded := replay(t, st, 10, 20, last)
		fresh := replay(t, dbtest.Open(t, freshURL(t, dbURL)), 0, 20, last.Add(-time.Hour))
		if !reflect.DeepEqual(upgraded, fresh[10:]) {
			t.Errorf("runs 11 to 20 after the upgrade %v, in a fresh database %v", upgraded, fresh[10:])
		}
		if got := len(exportCSV(t, st, export.Versions)); got != 46 {
			t.Errorf("%d versions after 20 snapshots, want 46", got)
		}
	})
}

// TestUpgradeFillsTheScheduleFromRaw: the migration sets starts_at and
// ends_at of every stored event and spell to what the decoder gives for
// its raw, and leaves every other column as it was.
func TestUpgradeFillsTheScheduleFromRaw(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := releaseDatabase(t, releaseScheduledDB, dbURL)
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		check := func(what, id string, raw string, starts, ends *time.Time) error {
			e, _, err := open511.DecodeEvent([]byte(raw), nil)
			if err != nil {
				return err
			}
			if !sameTime(e.StartsAt, starts) || !sameTime(e.EndsAt, ends) {
				t.Errorf("%s %s: starts %v ends %v, want %v %v", what, id, starts, ends, e.StartsAt, e.EndsAt)
			}
			if e.StartsAt != nil {
				n++
			}
			return nil
		}
		err := st.Versions(ctx, store.Filter{WithRaw: true}, func(v *store.EventVersion) error {
			return check("version of", v.ID, v.Raw, v.StartsAt, v.EndsAt)
		})
		if err == nil {
			err = st.Events(ctx, store.Filter{WithRaw: true}, func(e *store.Event) error {
				return check("event", e.ID, e.Raw, e.StartsAt, e.EndsAt)
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		if n < 4 {
			t.Fatalf("only %d stored rows have a schedule: the fixture does not test the migration", n)
		}
	})
}

// releaseDatabase is a database as the release before feeds left it: on
// SQLite a copy of its file; on PostgreSQL the schema 0001 with the file's
// rows copied in.
func releaseDatabase(t *testing.T, file, dbURL string) *store.Store {
	t.Helper()
	return releaseDatabaseAt(t, file, dbURL, "0001_initial")
}

// releaseDatabaseAt is releaseDatabase for a release whose last migration
// is schema.
func releaseDatabaseAt(t *testing.T, file, dbURL, schema string) *store.Store {
	t.Helper()
	if strings.HasPrefix(dbURL, "sqlite") {
		copyFile(t, file, strings.TrimPrefix(dbURL, "sqlite:///"))
		return openStore(t, dbURL)
	}
	src := dbtest.SQLite(t)
	copyFile(t, file, strings.TrimPrefix(src, "sqlite:///"))
	from, to := openStore(t, src), openStore(t, dbURL)
	if _, err := to.MigrateTo(ctx, schema); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"fetch_runs", "events", "event_versions"} {
		var rows []map[string]any
		if err := from.DB().Table(table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if err := to.DB().Table(table).CreateInBatches(rows, 100).Error; err != nil {
			t.Fatalf("copy %s: %v", table, err)
		}
	}
	if err := to.DB().Exec("SELECT setval('fetch_runs_id_seq', (SELECT MAX(id) FROM fetch_runs))").Error; err != nil {
		t.Fatal(err)
	}
	return to
}

// replay fetches snapshots [from, to) of the real 2021 set into st, ten
// minutes apart after start, and returns each run's counts.
func replay(t *testing.T, st *store.Store, from, to int, start time.Time) []store.RunCounts {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/511-real-2021/snap_*.json")
	slices.Sort(files)
	var snaps [][]json.RawMessage
	for _, f := range files[from:to] {
		list, err := feedtest.ReadSnapshotList(f)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, list)
	}
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	srv.Replay(snaps, 20)
	var counts []store.RunCounts
	for i := range snaps {
		now := start.Add(time.Duration(i+1) * 10 * time.Minute)
		sum, err := collect.Run(ctx, collect.Params{
			Feed:     &open511.Feed{URL: srv.URL(), PageSize: 20, Source: &source.Client{Timeout: 5 * time.Second}},
			FeedName: store.DefaultFeed, Store: st, Now: func() time.Time { return now },
			Version: "test", SourceURL: srv.URL(), Deadline: time.Minute,
		})
		if err != nil {
			t.Fatalf("snapshot %d: %v", from+i, err)
		}
		counts = append(counts, sum.RunCounts)
	}
	return counts
}

func lastRunStart(t *testing.T, st *store.Store) time.Time {
	t.Helper()
	var last time.Time
	err := st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error {
		last = r.StartedAt
		return nil
	})
	if err != nil || last.IsZero() {
		t.Fatalf("no runs: %v", err)
	}
	return last
}

// freshURL is a new empty database of the same kind as dbURL.
func freshURL(t *testing.T, dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite") {
		return dbtest.SQLite(t)
	}
	return dbtest.Postgres(t)
}

func openStore(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	return dbtest.OpenAsIs(t, dbURL)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// exportCSV is a table exported as CSV, one map per row.
func exportCSV(t *testing.T, st *store.Store, table string) []map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := export.Write(ctx, st, export.Options{Table: table, Format: export.CSV}, &buf); err != nil {
		t.Fatal(err)
	}
	return readCSV(t, &buf)
}

func readCSV(t *testing.T, r io.Reader) []map[string]string {
	t.Helper()
	records, err := csv.NewReader(r).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("CSV: %v", err)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// TestDryRunOnAnOlderSchemaSaysToMigrate: a dry run writes nothing, so on
// a database the previous release made it asks for a migration instead of
// failing on a column that does not exist yet.
func TestDryRunOnAnOlderSchemaSaysToMigrate(t *testing.T) {
	dbURL := dbtest.SQLite(t)
	st := releaseDatabase(t, releaseDB, dbURL)
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	srv.SetEvents(eventsOfSnapshot(t, 0), 20)
	_, err := collect.Run(ctx, collect.Params{
		Feed: &open511.Feed{URL: srv.URL(), Source: &source.Client{}}, FeedName: store.DefaultFeed, Store: st,
		Now: time.Now, SourceURL: srv.URL(), Deadline: time.Minute, DryRun: true,
	})
	if err == nil || !strings.Contains(err.Error(), "run trafficctl migrate") {
		t.Fatalf("dry run on schema 0001: %v", err)
	}
	if m, _ := st.Migrations(ctx); len(m.Pending) == 0 {
		t.Fatal("the dry run migrated the database")
	}
}

func eventsOfSnapshot(t *testing.T, n int) []json.RawMessage {
	t.Helper()
	list, err := feedtest.ReadSnapshotList(fmt.Sprintf("../../testdata/511-real-2021/snap_%02d.json", n))
	if err != nil {
		t.Fatal(err)
	}
	return list
}
