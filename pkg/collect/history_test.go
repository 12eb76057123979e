package collect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
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

var ctx = context.Background()

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// harness runs the real fetch path (HTTP client → collect.Run → store)
// against a local feed, with a clock that moves ten minutes per run.
type harness struct {
	t     *testing.T
	srv   *feedtest.Server
	st    *store.Store
	clock time.Time
}

func newHarness(t *testing.T, dbURL string) *harness {
	t.Helper()
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &harness{t: t, srv: srv, st: st, clock: time.Date(2021, 4, 15, 17, 10, 0, 0, time.UTC)}
}

func (h *harness) fetch() (collect.Summary, error) {
	h.clock = h.clock.Add(10 * time.Minute)
	now := h.clock
	return collect.Run(ctx, collect.Params{
		Feed:      &open511.Feed{URL: h.srv.URL(), PageSize: 4, Source: &source.Client{Retries: 0, Timeout: 5 * time.Second}},
		FeedName:  store.DefaultFeed,
		Store:     h.st,
		Now:       func() time.Time { return now },
		Version:   "test",
		SourceURL: h.srv.URL(),
		Deadline:  time.Minute,
	})
}

// servedRun is what one successful run was served.
type servedRun struct {
	runID  int64
	events map[string]any // id → the event object, decoded
}

// snapshotsFromDB rebuilds every run's snapshot through the export path
// (export --table snapshots --jsonl), and checks its order.
func snapshotsFromDB(t *testing.T, st *store.Store) map[int64]map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if _, err := export.Write(ctx, st, export.Options{Table: export.Snapshots, Format: export.JSONL}, &buf); err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[string]any{}
	lastRun, lastID := int64(-1), ""
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var row struct {
			RunID int64          `json:"run_id"`
			ID    string         `json:"id"`
			Raw   map[string]any `json:"raw"`
		}
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		if row.RunID < lastRun || (row.RunID == lastRun && row.ID <= lastID) {
			t.Fatalf("rows out of order: run %d id %s after run %d id %s", row.RunID, row.ID, lastRun, lastID)
		}
		lastRun, lastID = row.RunID, row.ID
		if out[row.RunID] == nil {
			out[row.RunID] = map[string]any{}
		}
		out[row.RunID][row.ID] = row.Raw
	}
	return out
}

func decodeAll(t *testing.T, events []json.RawMessage) map[string]any {
	m := map[string]any{}
	for _, raw := range events {
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		m[obj["id"].(string)] = obj
	}
	return m
}

func assertRebuilt(t *testing.T, st *store.Store, served []servedRun) {
	t.Helper()
	got := snapshotsFromDB(t, st)
	nonEmpty := 0
	for _, s := range served {
		if len(s.events) > 0 {
			nonEmpty++
		}
		if !reflect.DeepEqual(nonNil(got[s.runID]), s.events) {
			t.Fatalf("run %d: rebuilt snapshot has %d events %v, served %d %v", s.runID, len(got[s.runID]), keys(got[s.runID]), len(s.events), keys(s.events))
		}
	}
	if len(got) != nonEmpty {
		t.Fatalf("rebuilt %d non-empty snapshots, served %d", len(got), nonEmpty)
	}
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func keys(m map[string]any) []string {
	var k []string
	for id := range m {
		k = append(k, id)
	}
	sort.Strings(k)
	return k
}

func TestReplayOfRealSnapshotsRebuildsEveryOne(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("../../testdata/511-real-2021/snap_*.json")
	if len(files) != 20 {
		t.Fatalf("found %d snapshot files", len(files))
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		var served []servedRun
		seen := map[string]bool{}
		observations := 0
		for _, f := range files {
			events, err := feedtest.ReadSnapshotList(f)
			if err != nil {
				t.Fatal(err)
			}
			h.srv.SetEvents(events, 20)
			sum, err := h.fetch()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			served = append(served, servedRun{runID: sum.RunID, events: decodeAll(t, events)})
			for id := range served[len(served)-1].events {
				seen[id] = true
			}
			observations += len(events)
		}
		assertRebuilt(t, h.st, served)
		spells := 0
		if err := h.st.Versions(ctx, store.Filter{}, func(*store.EventVersion) error { spells++; return nil }); err != nil {
			t.Fatal(err)
		}
		// The fixture's README: 39 distinct events, 266 observations, 46 spells.
		if len(seen) != 39 || observations != 266 || spells != 46 {
			t.Fatalf("%d events, %d observations, %d spells; want 39, 266, 46", len(seen), observations, spells)
		}
		// 511.org/762714 goes Moderate → Major → Major with new lanes in its
		// headline → Moderate at a new position: four spells.
		var severities []string
		err := h.st.Versions(ctx, store.Filter{}, func(v *store.EventVersion) error {
			if v.ID == "511.org/762714" {
				severities = append(severities, v.Severity)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(severities) != "[Moderate Major Major Moderate]" {
			t.Fatalf("762714 spells: %v", severities)
		}

		// The same snapshot N more times adds N ledger rows and no versions.
		last, err := feedtest.ReadSnapshotList(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		h.srv.SetEvents(last, 20)
		for i := 0; i < 5; i++ {
			sum, err := h.fetch()
			if err != nil || sum.New+sum.Changed+sum.Closed != 0 || sum.Unchanged != len(last) {
				t.Fatalf("unchanged fetch: %+v %v", sum, err)
			}
		}
		after := 0
		if err := h.st.Versions(ctx, store.Filter{}, func(*store.EventVersion) error { after++; return nil }); err != nil {
			t.Fatal(err)
		}
		runs := 0
		if err := h.st.Runs(ctx, store.Filter{}, func(*store.FetchRun) error { runs++; return nil }); err != nil {
			t.Fatal(err)
		}
		if after != spells || runs != 25 {
			t.Fatalf("after 5 unchanged runs: %d spells (was %d), %d runs", after, spells, runs)
		}
	})
}

// model is the property test's reference: what the ledger counts should be.
type model struct {
	open map[string]string // id → content of events present in the last successful run
	ever map[string]bool
}

func (m *model) apply(events map[string]string) (c store.RunCounts) {
	for id, content := range events {
		switch prev, open := m.open[id]; {
		case !m.ever[id]:
			c.New++
		case open && prev == content:
			c.Unchanged++
		default:
			c.Changed++
		}
		m.ever[id] = true
	}
	for id := range m.open {
		if _, ok := events[id]; !ok {
			c.Closed++
		}
	}
	m.open = events
	return c
}

// TestHistoryProperty generates random sequences of snapshots (events
// appear, change, vanish and come back; failed runs and empty snapshots in
// between), fetches each through the real code path, and checks that the
// rebuilt snapshots equal exactly what was served, and the ledger's counts.
func TestHistoryProperty(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		for seed := uint64(1); seed <= 6; seed++ {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				t.Parallel()
				checkRandomHistory(t, dbURL, seed)
			})
		}
	})
}

func checkRandomHistory(t *testing.T, dbURL string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x511))
	// Every seed gets its own database tables by using a fresh SQLite file or
	// PostgreSQL database per seed.
	if seed > 1 {
		if filepath.Ext(dbURL) == ".db" {
			dbURL = dbtest.SQLite(t)
		} else {
			dbURL = dbtest.Postgres(t)
		}
	}
	h := newHarness(t, dbURL)
	m := &model{open: map[string]string{}, ever: map[string]bool{}}
	content := map[string]int{} // id → current revision
	var served []servedRun
	for run := 0; run < 14; run++ {
		if rng.IntN(6) == 0 { // a failed run: the server errors on some page
			failPage := rng.IntN(2)
			h.srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
				if page >= failPage {
					w.WriteHeader(http.StatusInternalServerError)
					return true
				}
				return false
			})
			h.srv.SetEvents(randomSnapshot(rng, content, 12), 4)
			if _, err := h.fetch(); err == nil {
				t.Fatal("a failing feed gave a successful run")
			}
			h.srv.SetFault(nil)
			continue
		}
		var events []json.RawMessage
		if rng.IntN(7) != 0 { // sometimes empty: valid, and it closes everything
			events = randomSnapshot(rng, content, 12)
		}
		h.srv.SetEvents(events, 4)
		sum, err := h.fetch()
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		byID := decodeAll(t, events)
		contents := map[string]string{}
		for id, obj := range byID {
			b, _ := json.Marshal(obj)
			contents[id] = string(b)
		}
		if want := m.apply(contents); sum.RunCounts != want {
			t.Fatalf("run %d counts %+v, want %+v", run, sum.RunCounts, want)
		}
		served = append(served, servedRun{runID: sum.RunID, events: byID})
	}
	assertRebuilt(t, h.st, served)
}

// randomSnapshot picks some of n event ids, changing a few of them.
func randomSnapshot(rng *rand.Rand, content map[string]int, n int) []json.RawMessage {
	var out []json.RawMessage
	for i := 0; i < n; i++ {
		if rng.IntN(3) == 0 {
			continue // absent from this snapshot
		}
		id := fmt.Sprintf("test.org/%d", 1000+i)
		if rng.IntN(5) == 0 {
			content[id]++
		}
		rev := content[id]
		severity := []string{"Minor", "Moderate", "Major"}[rev%3]
		// Key order varies between snapshots; it must not count as a change.
		var body string
		if rng.IntN(2) == 0 {
			body = fmt.Sprintf(`{"id":%q,"headline":"Incident %d rev %d","severity":%q,"event_type":"INCIDENT","status":"ACTIVE","updated":"2021-04-15T17:%02dZ","geography":{"type":"Point","coordinates":[-122.%d,37.%d]}}`, id, i, rev, severity, rev%60, 100+i, 200+rev)
		} else {
			body = fmt.Sprintf(`{"geography":{"coordinates":[-122.%d,37.%d],"type":"Point"},"status":"ACTIVE","event_type":"INCIDENT","severity":%q,"headline":"Incident %d rev %d","id":%q,"updated":"2021-04-15T17:%02dZ"}`, 100+i, 200+rev, severity, i, rev, id, rev%60)
		}
		out = append(out, json.RawMessage(body))
	}
	return out
}
