package cmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// testdataDir is the repository's testdata, found before a test changes
// folder.
var testdataDir, _ = filepath.Abs(filepath.Join("..", "testdata"))

// key511 is the global key; it may only reach the server source.url names.
const key511 = "global-511-key-0001"

// feedServer starts a local Open511 feed that serves these snapshots, one
// per run, the last one again after that.
func feedServer(t *testing.T, snapshots ...[]json.RawMessage) *feedtest.Server {
	t.Helper()
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	srv.Replay(snapshots, 3) // three events a page: every snapshot has several pages
	return srv
}

// eventsOf reads the events of fixture bodies (envelopes or plain lists).
func eventsOf(t *testing.T, files ...string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.TrimPrefix(string(b), "\ufeff"))
		var env struct{ Events []json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil || env.Events == nil {
			if err := json.Unmarshal(b, &out); err == nil {
				continue
			}
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, env.Events...)
	}
	return out
}

// bayArea and driveBC are two feeds' histories, four runs each, with new,
// changed, closed and returning events in each.
func bayArea(t *testing.T) [][]json.RawMessage {
	return [][]json.RawMessage{
		eventsOf(t, "511-real-2021/snap_05.json"), eventsOf(t, "511-real-2021/snap_06.json"),
		eventsOf(t, "511-real-2021/snap_07.json"), eventsOf(t, "511-real-2021/snap_05.json"),
	}
}

func driveBC(t *testing.T) [][]json.RawMessage {
	first := eventsOf(t, "511/events_page1.json", "511/events_page2.json")
	second := eventsOf(t, "511/events_snapshot2.json")
	return [][]json.RawMessage{first, second, first[2:], second}
}

// wzdxServer serves one WZDx document per request, the last one again
// after that, and records the requests' queries.
func wzdxServer(t *testing.T, docs ...[]byte) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := min(len(queries), len(docs)-1)
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write(docs[n])
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

// workZones are four WZDx documents cut from 511.org's real feed, with
// features new, changed, gone and back between them.
func workZones(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, "wzdx", "511-mtc-v4.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	features := doc["features"].([]any)
	cut := func(from, to int, changed int) []byte {
		var list []any
		for i, f := range features[from:to] {
			if i == changed {
				var c map[string]any
				raw, _ := json.Marshal(f)
				json.Unmarshal(raw, &c)
				c["properties"].(map[string]any)["vehicle_impact"] = "all-lanes-closed"
				f = c
			}
			list = append(list, f)
		}
		d := map[string]any{"type": "FeatureCollection", "road_event_feed_info": doc["road_event_feed_info"], "features": list}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return [][]byte{cut(0, 30, -1), cut(5, 35, 3), cut(0, 30, -1), cut(10, 40, 0)}
}

// feedsConfig writes a config file with these feeds (name: URL) and the
// global key for the host of source.url.
func feedsConfig(t *testing.T, sourceURL string, feeds map[string]string, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  url: %s\n  api_key: %s\n  retries: 0\n  timeout: 5s\nfeeds:\n", sourceURL, key511)
	names := make([]string, 0, len(feeds))
	for name := range feeds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %s:\n    url: %s\n", name, feeds[name])
		if strings.Contains(name, "workzones") {
			b.WriteString("    format: wzdx\n")
		}
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "trafficctl.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// snapshotsByRun is the snapshots export of one feed: for each of its runs
// in order, the rows without run_id and observed_at (which differ between
// databases), so that histories can be compared.
func snapshotsByRun(t *testing.T, dbURL, feed string) [][]string {
	t.Helper()
	code, out, errOut := run(t, time.Now(), "export", "--table", "snapshots", "--feed", feed, "--database-url", dbURL)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var runs [][]string
	last := ""
	for _, rec := range records[1:] {
		if rec[0] != feed {
			t.Fatalf("--feed %s exported a row of feed %s", feed, rec[0])
		}
		if rec[1] != last {
			runs, last = append(runs, nil), rec[1]
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], strings.Join(rec[3:], ","))
	}
	return runs
}

// TestFeedsKeepSeparateHistories collects three feeds into one database
// (two Open511 servers on different ports and a WZDx server), over four
// runs with changes in each, and compares each feed's snapshots with those
// of a database of its own. The global key goes to the 511.org-like server
// only.
func TestFeedsKeepSeparateHistories(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		bay, bc := feedServer(t, bayArea(t)...), feedServer(t, driveBC(t)...)
		wz, wzQueries := wzdxServer(t, workZones(t)...)
		cfg := feedsConfig(t, bay.URL(), map[string]string{"bayarea": bay.URL(), "drivebc": bc.URL(), "bayarea-workzones": wz.URL + "/traffic/wzdx"}, "")
		for i := 0; i < 4; i++ {
			if code, _, errOut := run(t, time.Now(), "fetch", "--config", cfg, "--database-url", dbURL); code != 0 {
				t.Fatalf("fetch %d: exit %d: %s", i, code, errOut)
			}
		}
		for _, r := range bay.Requests() {
			if r.Query().Get("api_key") != key511 {
				t.Fatalf("the 511.org-like feed was asked without its key: %s", r.RawQuery)
			}
		}
		for _, r := range bc.Requests() {
			if r.Query().Has("api_key") || strings.Contains(r.RawQuery, key511) {
				t.Fatalf("the DriveBC-like feed on another port received the 511.org key: %s", r.RawQuery)
			}
		}
		if len(bc.Requests()) < 8 {
			t.Fatalf("%d requests to the DriveBC-like feed; want several pages per run", len(bc.Requests()))
		}
		if len(*wzQueries) != 4 || strings.Contains(strings.Join(*wzQueries, " "), key511) {
			t.Fatalf("WZDx feed (another port) asked %d times, with queries %q", len(*wzQueries), *wzQueries)
		}

		for feed, history := range map[string][][]json.RawMessage{"bayarea": bayArea(t), "drivebc": driveBC(t), "bayarea-workzones": nil} {
			alone := freshLike(t, dbURL)
			url := ""
			if history != nil {
				url = feedServer(t, history...).URL()
			} else {
				srv, _ := wzdxServer(t, workZones(t)...)
				url = srv.URL + "/traffic/wzdx"
			}
			one := feedsConfig(t, bay.URL(), map[string]string{feed: url}, "")
			for i := 0; i < 4; i++ {
				if code, _, errOut := run(t, time.Now(), "fetch", "--config", one, "--database-url", alone); code != 0 {
					t.Fatalf("%s alone, fetch %d: exit %d: %s", feed, i, code, errOut)
				}
			}
			together, own := snapshotsByRun(t, dbURL, feed), snapshotsByRun(t, alone, feed)
			if len(together) != 4 || !reflect.DeepEqual(together, own) {
				t.Errorf("feed %s: %d runs with another feed, %d alone; histories differ:\n%v\n%v", feed, len(together), len(own), together, own)
			}
		}
	})
}

// freshLike is a new empty database of the same kind as dbURL.
func freshLike(t *testing.T, dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite") {
		return dbtest.SQLite(t)
	}
	return dbtest.Postgres(t)
}

// TestFetchOfSeveralFeedsExitStatus: one feed failing does not stop the
// others and makes the exit status 1; an unknown name is a usage error
// before anything runs; a name runs only that feed.
func TestFetchOfSeveralFeedsExitStatus(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.SQLite(t)
	bay, bc := feedServer(t, bayArea(t)...), feedServer(t, driveBC(t)...)
	bc.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		http.Error(w, "down", http.StatusInternalServerError)
		return true
	})
	cfg := feedsConfig(t, bay.URL(), map[string]string{"a-drivebc": bc.URL(), "b-bayarea": bay.URL()}, "")

	code, _, errOut := run(t, time.Now(), "fetch", "nosuch", "--config", cfg, "--database-url", dbURL)
	if code != ExitUsage || !strings.Contains(errOut, `no feed named "nosuch"`) || len(bay.Requests())+len(bc.Requests()) != 0 {
		t.Fatalf("unknown feed: exit %d, %d requests, stderr %s", code, len(bay.Requests())+len(bc.Requests()), errOut)
	}
	code, _, errOut = run(t, time.Now(), "fetch", "--config", cfg, "--database-url", dbURL)
	if code != ExitFailed || !strings.Contains(errOut, "trafficctl: feed a-drivebc: fetch page 1 of") {
		t.Fatalf("one feed failing: exit %d, stderr %s", code, errOut)
	}
	if got := strings.Count(errOut, `msg="fetch finished"`); got != 2 {
		t.Errorf("%d fetch finished records, want one per feed:\n%s", got, errOut)
	}
	runs := ledger(t, dbURL)
	slices.Sort(runs) // the feeds run side by side: either may finish first
	if want := []string{"a-drivebc failed", "b-bayarea succeeded"}; !reflect.DeepEqual(runs, want) {
		t.Errorf("ledger %v, want %v", runs, want)
	}
	code, _, errOut = run(t, time.Now(), "fetch", "b-bayarea", "--config", cfg, "--database-url", dbURL)
	if code != 0 || len(ledger(t, dbURL)) != 3 || len(bc.Requests()) != 1 {
		t.Fatalf("fetch b-bayarea: exit %d, %d runs, %d requests to the other feed: %s", code, len(ledger(t, dbURL)), len(bc.Requests()), errOut)
	}
}

// ledger is each run's feed and status, in order.
func ledger(t *testing.T, dbURL string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	err = st.Runs(context.Background(), store.Filter{}, func(r *store.FetchRun) error {
		out = append(out, r.Feed+" "+r.Status)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunLocksArePerFeed: a second run of the same feed exits 75 at once; a
// run of another feed proceeds: on PostgreSQL side by side, on SQLite
// (one writer) after waiting for the writer, well past a busy timeout.
func TestRunLocksArePerFeed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		bay, bc := feedServer(t, bayArea(t)...), feedServer(t, driveBC(t)...)
		cfg := feedsConfig(t, bay.URL(), map[string]string{"bayarea": bay.URL(), "drivebc": bc.URL()}, "")
		st := dbtest.Open(t, dbURL)
		held, err := st.BeginRun(context.Background(), "drivebc")
		if err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run(t, time.Now(), "fetch", "drivebc", "--config", cfg, "--database-url", dbURL)
		if code != ExitTemporary || !strings.Contains(errOut, "another trafficctl fetch of this feed is running") || len(bc.Requests()) != 0 {
			t.Fatalf("same feed: exit %d, %d requests: %s", code, len(bc.Requests()), errOut)
		}

		var wg sync.WaitGroup
		var otherCode int
		var otherErr string
		wg.Add(1)
		go func() {
			defer wg.Done()
			otherCode, _, otherErr = run(t, time.Now(), "fetch", "bayarea", "--config", cfg, "--database-url", dbURL)
		}()
		if strings.HasPrefix(dbURL, "sqlite") {
			// SQLite's writer is held: the other feed's run waits for it
			// (longer than SQLite's busy timeout), then succeeds.
			time.Sleep(1500 * time.Millisecond)
			held.Rollback()
			wg.Wait()
		} else {
			wg.Wait() // PostgreSQL: it finishes while the lock is still held
			held.Rollback()
		}
		if otherCode != 0 {
			t.Fatalf("another feed's run: exit %d: %s", otherCode, otherErr)
		}
		if runs := ledger(t, dbURL); !reflect.DeepEqual(runs, []string{"bayarea succeeded"}) {
			t.Errorf("ledger %v", runs)
		}
	})
}

// TestStatusAndExportPerFeed: status reports each feed and --max-age names
// the stale one; export --feed keeps the feeds asked for.
func TestStatusAndExportPerFeed(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.SQLite(t)
	bay, bc := feedServer(t, bayArea(t)...), feedServer(t, driveBC(t)...)
	cfg := feedsConfig(t, bay.URL(), map[string]string{"bayarea": bay.URL(), "drivebc": bc.URL()}, "")
	if code, _, errOut := run(t, time.Now(), "fetch", "bayarea", "--config", cfg, "--database-url", dbURL); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, time.Now(), "status", "--max-age", "1h", "--config", cfg, "--database-url", dbURL)
	if code != ExitFailed || !strings.Contains(errOut, "no fetch of feed drivebc has succeeded yet") || strings.Contains(errOut, "feed bayarea") {
		t.Fatalf("status --max-age: exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"feed bayarea:    open511 " + bay.URL(), "feed drivebc:    open511 " + bc.URL(), "  last success:  none yet", "max age:         1h: STALE: drivebc"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, time.Now(), "status", "bayarea", "--json", "--max-age", "1h", "--config", cfg, "--database-url", dbURL)
	var rep struct {
		Healthy bool
		Feeds   []struct {
			Name        string
			URL         string
			LastSuccess *struct {
				RunID int64 `json:"run_id"`
			} `json:"last_success"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Healthy || len(rep.Feeds) != 1 || rep.Feeds[0].Name != "bayarea" || rep.Feeds[0].LastSuccess.RunID != 1 {
		t.Fatalf("status bayarea --json: exit %d, %+v, %v:\n%s", code, rep, err, out)
	}
	if strings.Contains(out, key511) {
		t.Fatal("status printed the key")
	}

	if code, _, errOut := run(t, time.Now(), "fetch", "drivebc", "--config", cfg, "--database-url", dbURL); code != 0 {
		t.Fatal(errOut)
	}
	count := func(args ...string) map[string]int {
		code, out, errOut := run(t, time.Now(), append([]string{"export", "--database-url", dbURL}, args...)...)
		if code != 0 {
			t.Fatalf("export %v: %s", args, errOut)
		}
		records, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
		n := map[string]int{}
		for _, rec := range records[1:] {
			n[rec[0]]++
		}
		return n
	}
	all := count()
	if all["bayarea"] == 0 || all["drivebc"] == 0 {
		t.Fatalf("events per feed %v", all)
	}
	if got := count("--feed", "drivebc"); !reflect.DeepEqual(got, map[string]int{"drivebc": all["drivebc"]}) {
		t.Errorf("--feed drivebc: %v", got)
	}
	if got := count("--feed", "drivebc,bayarea", "--table", "runs"); !reflect.DeepEqual(got, map[string]int{"drivebc": 1, "bayarea": 1}) {
		t.Errorf("--feed drivebc,bayarea --table runs: %v", got)
	}
	if got := count("--feed", "bayarea", "--severity", "Moderate"); len(got) != 1 || got["bayarea"] == 0 || got["bayarea"] >= all["bayarea"] {
		t.Errorf("--feed bayarea --severity Moderate: %v of %v", got, all)
	}
}
