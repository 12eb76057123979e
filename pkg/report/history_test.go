package report_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// historyStart and historyEvery place the 20 runs of each feed: the real
// 2021 snapshots' first and last times (2021-04-15 17:10 to 2021-04-26
// 05:40 UTC), evenly spaced.
var (
	historyStart = time.Date(2021, 4, 15, 17, 10, 0, 0, time.UTC)
	historyEvery = time.Date(2021, 4, 26, 5, 40, 0, 0, time.UTC).Sub(historyStart) / 19
)

// seedHistory fetches, through the real collect path from local feed
// servers, 20 runs of two feeds into the store at dbURL: "511" replays the
// real 2021 Open511 snapshots; "wzdx" serves 511.org's WZDx document, with
// a third of its work zones gone from run 13 on. The 511 feed's run 8
// failed (a ledger row with its error).
func seedHistory(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := dbtest.Open(t, dbURL)

	open511Srv := feedtest.New()
	t.Cleanup(open511Srv.Close)
	files, err := filepath.Glob("../../testdata/511-real-2021/snap_*.json")
	if err != nil || len(files) != 20 {
		t.Fatalf("the real 2021 snapshots: %d files, %v", len(files), err)
	}
	var snaps [][]json.RawMessage
	for _, f := range files {
		events, err := feedtest.ReadSnapshotList(f)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, events)
	}
	open511Srv.Replay(snaps, 20)

	doc, err := os.ReadFile("../../testdata/wzdx/511-mtc-v4.1.json")
	if err != nil {
		t.Fatal(err)
	}
	var full map[string]any
	if err := json.Unmarshal(doc, &full); err != nil {
		t.Fatal(err)
	}
	features := full["features"].([]any)
	var kept []any
	for i, f := range features {
		if i%3 != 0 {
			kept = append(kept, f)
		}
	}
	full["features"] = kept
	fewer, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	wzdxSrv := feedtest.New()
	t.Cleanup(wzdxSrv.Close)

	client := &source.Client{Timeout: 10 * time.Second}
	for run := range 20 {
		at := historyStart.Add(time.Duration(run) * historyEvery)
		if run == 7 {
			if _, err := st.RecordFailedRun(ctx, store.RunInfo{Feed: "511", StartedAt: at, SourceURL: "http://511.test/traffic/events"},
				"fetch page 1 of http://511.test/traffic/events: 503 Service Unavailable (retried 3 times)", at.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			open511Srv.Replay(snaps[run+1:], 20) // the snapshot it missed is gone
		} else {
			fetch(t, st, "511", &open511.Feed{URL: open511Srv.URL(), PageSize: 20, Source: client}, "http://511.test/traffic/events", at)
		}
		body := doc
		if run >= 12 {
			body = fewer
		}
		if err := wzdxSrv.SetBodies(body); err != nil {
			t.Fatal(err)
		}
		fetch(t, st, "wzdx", &wzdx.Feed{URL: wzdxSrv.URL(), Source: client}, "http://511.test/traffic/wzdx", at.Add(2*time.Minute))
	}
	return st
}

func fetch(t testing.TB, st *store.Store, name string, feed traffic.Feed, sourceURL string, at time.Time) {
	t.Helper()
	_, err := collect.Run(context.Background(), collect.Params{Feed: feed, FeedName: name, Store: st, Now: func() time.Time { return at },
		Version: "test", SourceURL: sourceURL, Deadline: time.Minute})
	if err != nil {
		t.Fatalf("fetch %s at %s: %v", name, at, err)
	}
}
