package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

var ctx = context.Background()

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// fixtureEvents decodes the events of fixture bodies.
func fixtureEvents(t *testing.T, files ...string) []traffic.Event {
	t.Helper()
	var out []traffic.Event
	for _, f := range files {
		b, err := os.ReadFile("../../testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ Events []json.RawMessage }
		if err := json.Unmarshal([]byte(strings.TrimPrefix(string(b), "\ufeff")), &env); err != nil {
			t.Fatal(err)
		}
		for _, raw := range env.Events {
			e, _, err := open511.DecodeEvent(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

// apply is one fetch's database work on a whole snapshot: the run's
// transaction, with its lock, the snapshot and the ledger row, committed.
func apply(tb testing.TB, s *store.Store, at time.Time, events []traffic.Event) store.FetchRun {
	tb.Helper()
	return writeInPages(tb, s, at, [][]traffic.Event{events})
}

func events(t *testing.T, s *store.Store) map[string]store.Event {
	t.Helper()
	out := map[string]store.Event{}
	err := s.Events(ctx, store.Filter{WithRaw: true}, func(e *store.Event) error {
		c := *e
		out[e.ID] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := s.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Pending) == 0 || len(st.Applied) != 0 {
			t.Fatalf("fresh database: %+v", st)
		}
		applied, err := s.Migrate(ctx)
		if err != nil || len(applied) != len(st.Pending) {
			t.Fatalf("first migrate applied %v, err %v", applied, err)
		}
		applied, err = s.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v", applied, err)
		}
	})
}

func TestApplySnapshotUpsertsAndKeepsFirstSeen(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		first := fixtureEvents(t, "511/events_page1.json", "511/events_page2.json")
		run1 := apply(t, s, t0, first)
		if run1.EventsNew != 8 || run1.EventsUnchanged != 0 {
			t.Fatalf("run 1 counts %+v", run1)
		}
		run2 := apply(t, s, t0.Add(10*time.Minute), first)
		if run2.EventsNew != 0 || run2.EventsUnchanged != 8 || run2.EventsChanged != 0 || run2.EventsClosed != 0 {
			t.Fatalf("run 2 counts %+v", run2)
		}
		got := events(t, s)
		if len(got) != 8 {
			t.Fatalf("%d events after the same snapshot twice", len(got))
		}
		line := got["511.org/761870"]
		if line.GeometryType != "LineString" || *line.Lat != 37.258462 || *line.Lon != -121.962391 {
			t.Fatalf("LineString event: %+v", line.Event)
		}
		if !got["511.org/763104"].LastSeenAt.Equal(t0.Add(10 * time.Minute)) {
			t.Fatalf("last_seen_at = %v", got["511.org/763104"].LastSeenAt)
		}

		run3 := apply(t, s, t0.Add(20*time.Minute), fixtureEvents(t, "511/events_snapshot2.json"))
		if run3.EventsNew != 1 || run3.EventsChanged != 1 || run3.EventsClosed != 1 || run3.EventsUnchanged != 6 {
			t.Fatalf("run 3 counts %+v", run3)
		}
		got = events(t, s)
		changed := got["511.org/763104"]
		if changed.Severity != "Moderate" || !changed.FirstSeenAt.Equal(t0) || !changed.LastSeenAt.Equal(t0.Add(20*time.Minute)) || changed.CurrentVersion != 2 {
			t.Fatalf("763104 after snapshot 2: severity %s first %v last %v version %d", changed.Severity, changed.FirstSeenAt, changed.LastSeenAt, changed.CurrentVersion)
		}
		if got["511.org/763127"].FirstSeenAt != t0.Add(20*time.Minute) {
			t.Fatalf("763127 not added: %+v", got["511.org/763127"])
		}
		if c := got["511.org/763109"].ClosedAt; c == nil || !c.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("763109 closed_at = %v", c)
		}
		if len(got) != 9 {
			t.Fatalf("%d events", len(got))
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(changed.Raw), &raw); err != nil || raw["+source_type"] != "CHP" {
			t.Fatalf("raw does not keep extension fields: %v %v", raw, err)
		}

		// It comes back: closed_at cleared, a new spell, first_seen_at kept.
		run4 := apply(t, s, t0.Add(30*time.Minute), first)
		if run4.EventsChanged != 2 || run4.EventsClosed != 1 {
			t.Fatalf("run 4 counts %+v", run4)
		}
		back := events(t, s)["511.org/763109"]
		if back.ClosedAt != nil || !back.FirstSeenAt.Equal(t0) || back.CurrentVersion != 2 {
			t.Fatalf("763109 after coming back: %+v", back)
		}
	})
}

func TestVersionsRecordSpells(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		first := fixtureEvents(t, "511/events_page1.json", "511/events_page2.json")
		r1 := apply(t, s, t0, first)
		if _, err := s.RecordFailedRun(ctx, store.RunInfo{StartedAt: t0.Add(5 * time.Minute)}, "boom", t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		r2 := apply(t, s, t0.Add(10*time.Minute), first)
		r3 := apply(t, s, t0.Add(20*time.Minute), fixtureEvents(t, "511/events_snapshot2.json"))
		spells := map[string][]store.EventVersion{}
		err := s.Versions(ctx, store.Filter{}, func(v *store.EventVersion) error {
			spells[v.ID] = append(spells[v.ID], *v)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// An unchanged event: one spell across the failed run, from r1 to r3.
		if sp := spells["511.org/763112"]; len(sp) != 1 || sp[0].FirstRunID != r1.ID || *sp[0].LastRunID != r3.ID || !sp[0].ValidTo.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("763112 spells %+v", sp)
		}
		// Changed at r3: spell 1 ends at r2, spell 2 begins at r3.
		if sp := spells["511.org/763104"]; len(sp) != 2 || *sp[0].LastRunID != r2.ID || sp[1].FirstRunID != r3.ID || sp[1].Severity != "Moderate" {
			t.Fatalf("763104 spells %+v", sp)
		}
		// Gone at r3: its spell ends at r2.
		if sp := spells["511.org/763109"]; len(sp) != 1 || *sp[0].LastRunID != r2.ID {
			t.Fatalf("763109 spells %+v", sp)
		}
		// Rebuilt snapshots equal what was applied.
		perRun := map[int64][]string{}
		err = s.Snapshots(ctx, store.Filter{}, func(r *store.SnapshotRow) error {
			perRun[r.RunID] = append(perRun[r.RunID], r.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(perRun) != 3 || len(perRun[r1.ID]) != 8 || len(perRun[r2.ID]) != 8 || len(perRun[r3.ID]) != 8 {
			t.Fatalf("snapshots %v", perRun)
		}
		if strings.Join(perRun[r3.ID], ",") == strings.Join(perRun[r2.ID], ",") {
			t.Fatal("snapshot 3 equals snapshot 2")
		}
	})
}

func TestOpenRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"mysql://root@localhost/db", "", "sqlite://", "sqlite:///no/such/folder/x.db"} {
		if _, err := store.Open(ctx, u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, dialect, display string
		dsnHas               string
	}{
		{"sqlite:///data/t.db", "sqlite", "sqlite:///data/t.db", "file:data/t.db?"},
		{"sqlite:////var/lib/t.db", "sqlite", "sqlite:////var/lib/t.db", "file:/var/lib/t.db?"},
		{"trafficctl.db", "sqlite", "sqlite:///trafficctl.db", "_txlock=immediate"},
		{"postgres://u:secretpw@db.example.com:5432/d", "postgres", "postgres://u:***@db.example.com:5432/d?connect_timeout=10&sslmode=require", "sslmode=require"},
		{"postgresql://u@127.0.0.1/d", "postgres", "postgresql://u@127.0.0.1/d?connect_timeout=10", "connect_timeout=10"},
		{"postgres://u@db.example.com/d?sslmode=disable", "postgres", "postgres://u@db.example.com/d?connect_timeout=10&sslmode=disable", "sslmode=disable"},
	}
	for _, tt := range tests {
		got, err := store.ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if string(got.Dialect) != tt.dialect || got.Display != tt.display || !strings.Contains(got.DSN, tt.dsnHas) {
			t.Errorf("ParseURL(%q) = %+v", tt.in, got)
		}
	}
}

func TestSecondFetchIsLockedOut(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		a := dbtest.Open(t, dbURL)
		b := dbtest.Open(t, dbURL)
		fa, err := a.BeginRun(ctx, store.DefaultFeed)
		if err != nil {
			t.Fatal(err)
		}
		defer fa.Rollback()
		start := time.Now()
		if _, err := b.BeginRun(ctx, store.DefaultFeed); err != store.ErrLocked {
			t.Fatalf("second BeginRun: %v, want ErrLocked", err)
		}
		t.Logf("second fetch gave up after %s", time.Since(start).Round(time.Millisecond))
	})
}

// TestUnchangedRunWritesOnlyItsLedgerRow: an open spell's end is implicit
// (the latest successful run), so a run that changes nothing leaves events
// and event_versions as they were, and the exports still show it.
func TestUnchangedRunWritesOnlyItsLedgerRow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		first := fixtureEvents(t, "511/events_page1.json", "511/events_page2.json")
		apply(t, s, t0, first)
		const evq, vq = "SELECT * FROM events ORDER BY id", "SELECT * FROM event_versions ORDER BY event_id, version"
		events0, versions0 := dbtest.Dump(t, s.DB(), evq), dbtest.Dump(t, s.DB(), vq)
		last := apply(t, s, t0.Add(time.Hour), first)
		if dbtest.Dump(t, s.DB(), evq) != events0 || dbtest.Dump(t, s.DB(), vq) != versions0 {
			t.Fatal("an unchanged run rewrote events or event_versions")
		}
		got := events(t, s)["511.org/763104"]
		if !got.LastSeenAt.Equal(t0.Add(time.Hour)) || got.ClosedAt != nil {
			t.Fatalf("last_seen_at %v closed_at %v", got.LastSeenAt, got.ClosedAt)
		}
		spells := 0
		err := s.Versions(ctx, store.Filter{}, func(v *store.EventVersion) error {
			spells++
			if *v.LastRunID != last.ID || !v.ValidTo.Equal(t0.Add(time.Hour)) {
				t.Fatalf("open spell of %s ends at run %d %v", v.ID, *v.LastRunID, v.ValidTo)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if spells != len(first) {
			t.Fatalf("%d spells exported, want one open spell for each of the %d events", spells, len(first))
		}
	})
}

func TestNewSQLiteDatabaseUsesLargePagesAndWAL(t *testing.T) {
	t.Parallel()
	pragmas := func(t *testing.T, s *store.Store) (pageSize int, mode string) {
		t.Helper()
		if err := s.DB().Raw("PRAGMA page_size").Scan(&pageSize).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
			t.Fatal(err)
		}
		return pageSize, mode
	}
	s := dbtest.Open(t, dbtest.SQLite(t))
	if size, mode := pragmas(t, s); size != 16384 || mode != "wal" {
		t.Errorf("new database: page_size %d, journal_mode %s; want 16384, wal", size, mode)
	}

	// A database created elsewhere with 4 KiB pages keeps them.
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("PRAGMA page_size = 4096; CREATE TABLE x (y)"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s = dbtest.Open(t, "sqlite:///"+path)
	if size, mode := pragmas(t, s); size != 4096 || mode != "wal" {
		t.Errorf("existing database: page_size %d, journal_mode %s; want 4096, wal", size, mode)
	}
}

// writeInPages applies a snapshot page by page, as a fetch does.
func writeInPages(t testing.TB, s *store.Store, at time.Time, pages [][]traffic.Event) store.FetchRun {
	t.Helper()
	f, err := s.BeginRun(ctx, store.DefaultFeed)
	if err != nil {
		t.Fatal(err)
	}
	run := store.RunInfo{StartedAt: at, SourceURL: "http://feed/", Version: "test"}
	if err := f.Start(ctx, run); err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		if err := f.Write(ctx, page); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.Finish(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// variant is e with another headline: other content, same id.
func variant(t *testing.T, e traffic.Event, headline string) traffic.Event {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(e.Raw), &obj); err != nil {
		t.Fatal(err)
	}
	obj["headline"] = headline
	b, _ := json.Marshal(obj)
	v, _, err := open511.DecodeEvent(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A feed whose pages shift while they are read lists some ids twice; the
// later copy counts. Written page by page, such a snapshot must leave the
// database exactly as the same snapshot with each id once (its last copy),
// whatever the earlier copy was: new, unchanged, changed, or changed back.
func TestRepeatedIDsAcrossPagesKeepTheLast(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		base := fixtureEvents(t, "511/events_page1.json", "511/events_page2.json")[:5]
		e1, e2, e3, e4, n1 := base[0], base[1], base[2], base[3], base[4]
		stored := []traffic.Event{e1, e2, e3, e4} // run 1; n1 comes later
		strip := func(e traffic.Event) traffic.Event { return traffic.Event{ID: e.ID, ContentHash: e.ContentHash} }
		pages := [][]traffic.Event{
			{variant(t, e1, "e1 changed"), strip(e2), n1, variant(t, e3, "e3 changed")},
			{strip(e1), variant(t, e2, "e2 changed"), variant(t, n1, "n1 again"), variant(t, e3, "e3 changed again")},
		} // e4 is gone
		once := []traffic.Event{e1, variant(t, e2, "e2 changed"), variant(t, n1, "n1 again"), variant(t, e3, "e3 changed again")}

		streamed, single := dbtest.Open(t, dbURL), dbtest.Open(t, dbtest.SQLite(t))
		if strings.HasPrefix(dbURL, "postgres") {
			single = dbtest.Open(t, dbtest.Postgres(t))
		}
		apply(t, streamed, t0, stored)
		apply(t, single, t0, stored)

		at := t0.Add(10 * time.Minute)
		got := writeInPages(t, streamed, at, pages)
		want := apply(t, single, at, once)
		if got.EventsNew != want.EventsNew || got.EventsChanged != want.EventsChanged ||
			got.EventsUnchanged != want.EventsUnchanged || got.EventsClosed != want.EventsClosed {
			t.Errorf("counts: streamed %+v, once %+v", got, want)
		}
		if want.EventsNew != 1 || want.EventsChanged != 2 || want.EventsUnchanged != 1 || want.EventsClosed != 1 {
			t.Errorf("the single snapshot's counts are not the ones this test is about: %+v", want)
		}
		// A third run, the same for both, must find the same open spells.
		apply(t, streamed, t0.Add(20*time.Minute), once[1:])
		apply(t, single, t0.Add(20*time.Minute), once[1:])
		for _, q := range []string{
			"SELECT * FROM events ORDER BY id",
			"SELECT * FROM event_versions ORDER BY event_id, version",
		} {
			if a, b := dbtest.Dump(t, streamed.DB(), q), dbtest.Dump(t, single.DB(), q); a != b {
				t.Errorf("%s:\nstreamed with repeats:\n%s\neach id once:\n%s", q, a, b)
			}
		}
	})
}

// More changed events than wait to be written together (flushAt) are
// written in batches: here 500 after the tenth page, 100 at the end. The
// result must be the same as with the whole snapshot in one write.
func TestManyChangedEventsWrittenInBatches(t *testing.T) {
	t.Parallel()
	base := feedtest.GenerateEvents(1300, 7)
	first := decodeAll(t, base)
	second := decodeAll(t, feedtest.ChangeEvents(base, 7, 2, 1)) // 650 changed
	// Run 2 drops the last 100 events and brings two new ones.
	second = append(second[:1200], decodeAll(t, []json.RawMessage{feedtest.GenerateEvent(5000, 7, 0), feedtest.GenerateEvent(5001, 7, 0)})...)
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		paged, whole := dbtest.Open(t, dbURL), dbtest.Open(t, dbtest.SQLite(t))
		if strings.HasPrefix(dbURL, "postgres") {
			whole = dbtest.Open(t, dbtest.Postgres(t))
		}
		apply(t, paged, t0, first)
		apply(t, whole, t0, first)
		var pages [][]traffic.Event
		for start := 0; start < len(second); start += 100 { // 50 changed a page
			pages = append(pages, second[start:min(start+100, len(second))])
		}
		at := t0.Add(10 * time.Minute)
		got := writeInPages(t, paged, at, pages)
		want := apply(t, whole, at, second)
		if got.EventsNew != 2 || got.EventsChanged != 600 || got.EventsUnchanged != 600 || got.EventsClosed != 100 ||
			got.EventsChanged != want.EventsChanged || got.EventsClosed != want.EventsClosed {
			t.Errorf("counts: in pages %+v, whole %+v", got, want)
		}
		for _, q := range []string{
			"SELECT * FROM events ORDER BY id",
			"SELECT * FROM event_versions ORDER BY event_id, version",
		} {
			if a, b := dbtest.Dump(t, paged.DB(), q), dbtest.Dump(t, whole.DB(), q); a != b {
				t.Errorf("%s differs between a snapshot written in pages and written whole", q)
			}
		}
	})
}
