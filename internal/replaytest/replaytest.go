// Package replaytest fills a database through the real fetch path (a
// local Open511 server → the HTTP client → collect.Run → the store) with
// the real 511.org snapshots of testdata/511-real-2021, at chosen times,
// with failed runs, gaps and several feeds: a history for tests that check
// an export against a computation of their own.
package replaytest

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// Step is one run: of Feed (store.DefaultFeed when empty), starting At,
// serving real snapshot Snapshot (0 to 19), or nothing at all when Empty,
// or failing with 503 when Fail.
type Step struct {
	At       time.Time
	Feed     string
	Snapshot int
	Empty    bool
	Fail     bool
}

// Snapshots are the 20 real snapshots, in order.
func Snapshots(t testing.TB) [][]json.RawMessage {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "testdata", "511-real-2021", "snap_*.json"))
	slices.Sort(files)
	if len(files) != 20 {
		t.Fatalf("found %d real snapshots, want 20", len(files))
	}
	out := make([][]json.RawMessage, len(files))
	for i, f := range files {
		list, err := feedtest.ReadSnapshotList(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = list
	}
	return out
}

// Replay runs the steps in order through the real fetch path.
func Replay(t testing.TB, st *store.Store, steps []Step) {
	t.Helper()
	ctx := context.Background()
	snaps := Snapshots(t)
	srv := feedtest.New()
	defer srv.Close()
	for i, s := range steps {
		feed := s.Feed
		if feed == "" {
			feed = store.DefaultFeed
		}
		var events []json.RawMessage
		if !s.Empty {
			events = snaps[s.Snapshot]
		}
		srv.SetEvents(events, 7) // three pages for most snapshots
		srv.SetFault(nil)
		if s.Fail {
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
				if page < 1 {
					return false
				}
				w.WriteHeader(http.StatusServiceUnavailable) // the second page fails
				return true
			})
		}
		now := s.At
		sum, err := collect.Run(ctx, collect.Params{
			Feed:     &open511.Feed{URL: srv.URL(), PageSize: 7, Source: &source.Client{Retries: 0, Timeout: 5 * time.Second}},
			FeedName: feed, Store: st, Now: func() time.Time { return now },
			Version: "test", SourceURL: srv.URL(), Deadline: time.Minute,
		})
		if s.Fail != (err != nil) || s.Fail != (sum.Status == store.RunFailed) {
			t.Fatalf("step %d (%+v): status %s, err %v", i, s, sum.Status, err)
		}
	}
}

// Gappy is a history of two feeds with what an analysis must cope with.
// Feed default fetches every 10 minutes from 08:05 (2021-04-27, UTC):
// snapshots 0 to 7, a failed run at 09:25, then nothing for over two hours
// (no run at all from 10:00 to 11:00), and snapshots 8 to 19 from 11:35;
// events close (snapshot 6 has 9 of snapshot 5's 20), change and come
// back. Feed other fetches snapshots 3 to 9 every 15 minutes from 08:12,
// the same ids as other events, and then an empty snapshot, which closes
// them all.
func Gappy() []Step {
	day := time.Date(2021, 4, 27, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	var steps []Step
	for i := 0; i < 8; i++ {
		steps = append(steps, Step{At: at(8, 5+10*i), Snapshot: i})
	}
	steps = append(steps, Step{At: at(9, 25), Snapshot: 8, Fail: true})
	for i := 8; i < 20; i++ {
		steps = append(steps, Step{At: at(11, 35+10*(i-8)), Snapshot: i})
	}
	for i := 3; i <= 10; i++ {
		steps = append(steps, Step{At: at(8, 12+15*(i-3)), Feed: "other", Snapshot: i, Empty: i == 10})
	}
	slices.SortStableFunc(steps, func(a, b Step) int { return a.At.Compare(b.At) })
	return steps
}
