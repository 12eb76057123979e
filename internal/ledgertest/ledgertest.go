// Package ledgertest seeds a real database with a ledger of runs at chosen
// times, through the same store calls a fetch makes, so that status, gap
// and export tests start from a known history.
package ledgertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Run is one run to record: a successful one applying the events of
// Fixtures, or a failed one when Fail holds its reason.
type Run struct {
	At       time.Time
	Fixtures []string        // bodies under the repository's testdata/
	Events   []traffic.Event // applied instead of Fixtures when not nil
	Fail     string
	Feed     string // store.DefaultFeed when empty
}

// Seed migrates the store and records the runs in order.
func Seed(t testing.TB, s *store.Store, runs []Run) {
	t.Helper()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	Record(t, s, runs)
}

// Record records the runs in order on the store's schema as it is (an
// upgrade test's older one).
func Record(t testing.TB, s *store.Store, runs []Run) {
	t.Helper()
	ctx := context.Background()
	for _, r := range runs {
		feed := r.Feed
		if feed == "" {
			feed = store.DefaultFeed
		}
		info := store.RunInfo{Feed: feed, StartedAt: r.At, SourceURL: "http://feed.test/traffic/events", Version: "test"}
		if r.Fail != "" {
			if _, err := s.RecordFailedRun(ctx, info, r.Fail, r.At.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		events, pages := r.Events, 1
		if events == nil {
			events, pages = Events(t, r.Fixtures...), len(r.Fixtures)
		}
		info.Pages, info.Received = pages, len(events)
		f, err := s.BeginRun(ctx, feed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Apply(ctx, info, events); err != nil {
			t.Fatal(err)
		}
	}
}

// Events decodes the events of fixture bodies (paths under testdata/).
func Events(t testing.TB, fixtures ...string) []traffic.Event {
	t.Helper()
	var out []traffic.Event
	for _, name := range fixtures {
		b, err := os.ReadFile(filepath.Join(testdata(), name))
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ Events []json.RawMessage }
		if err := json.Unmarshal([]byte(strings.TrimPrefix(string(b), "\ufeff")), &env); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, raw := range env.Events {
			e, _, err := open511.DecodeEvent(raw, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, e)
		}
	}
	return out
}

// Edit returns a copy of events in which the event with this id has the
// top-level field set to value, decoded anew as if the feed had sent it.
// Fixtures have every event ACTIVE, for example; a filter test needs others.
func Edit(t testing.TB, events []traffic.Event, id, field string, value any) []traffic.Event {
	t.Helper()
	out := slices.Clone(events)
	for i, e := range out {
		if e.ID != id {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(e.Raw), &obj); err != nil {
			t.Fatal(err)
		}
		obj[field] = value
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if out[i], _, err = open511.DecodeEvent(b, nil); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("no event %s to edit", id)
	return nil
}

// testdata is the repository's testdata folder, found from this file so
// that tests in any package can name fixtures the same way.
func testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

// Scenario is a ledger with known gaps and failures, and what status must
// report about it at Now.
type Scenario struct {
	Runs []Run
	Now  time.Time

	Events, OpenEvents, Versions, AllRuns, FailedRuns int64
	LastSuccessID                                     int64
	LastSuccessAge                                    time.Duration
	FailuresIn24h                                     []string // reasons, newest first
	Median                                            time.Duration
	Gaps                                              []store.Gap
}

// Gappy is a collector scheduled every 10 minutes that missed two hours
// (the feed failing twice in it) and one 25-minute stretch, next to a
// 20-minute interval that is exactly twice the median and so not a gap. A
// failure three days earlier lies outside the 24-hour window.
func Gappy() Scenario {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	first := []string{"511/events_page1.json", "511/events_page2.json"}
	second := []string{"511/events_snapshot2.json"}
	runs := []Run{
		{At: day.AddDate(0, 0, -3), Fail: "fetch page 1 of http://feed.test/traffic/events: 500 Internal Server Error"}, // 1
		{At: at(10, 0), Fixtures: first},  // 2
		{At: at(10, 10), Fixtures: first}, // 3
		{At: at(10, 20), Fixtures: first}, // 4
		{At: at(10, 30), Fixtures: first}, // 5
		{At: at(10, 40), Fail: "fetch page 1 of http://feed.test/traffic/events: 503 Service Unavailable"}, // 6
		{At: at(11, 50), Fail: "API key refused (401 Unauthorized): set TRAFFICCTL_API_KEY"},               // 7
		{At: at(12, 30), Fixtures: second}, // 8: gap of 2h after run 5
		{At: at(12, 40), Fixtures: second}, // 9
		{At: at(13, 0), Fixtures: second},  // 10: 20m, exactly twice the median: not a gap
		{At: at(13, 25), Fixtures: second}, // 11: 25m: a gap
		{At: at(13, 35), Fixtures: second}, // 12
		{At: at(13, 45), Fixtures: second}, // 13
	}
	return Scenario{
		Runs: runs, Now: at(14, 0),
		// 8 events, then snapshot2 adds 763127, changes 763104 and closes 763109.
		Events: 9, OpenEvents: 8, Versions: 10, AllRuns: 13, FailedRuns: 3,
		LastSuccessID: 13, LastSuccessAge: 15 * time.Minute,
		FailuresIn24h: []string{runs[6].Fail, runs[5].Fail},
		Median:        10 * time.Minute,
		Gaps: []store.Gap{
			{AfterRunID: 5, BeforeRunID: 8, Start: at(10, 30), End: at(12, 30)},
			{AfterRunID: 10, BeforeRunID: 11, Start: at(13, 0), End: at(13, 25)},
		},
	}
}
