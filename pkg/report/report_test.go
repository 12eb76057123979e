package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/report"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// pageData is the part of the page's JSON the tests look at.
type pageData struct {
	Feeds      []string `json:"feeds"`
	Categories []string `json:"categories"`
	Colours    []string `json:"colours"`
	Every      int64    `json:"every"`
	Scopes     []struct {
		Name    string `json:"name"`
		Feed    int    `json:"feed"`
		Summary struct {
			Runs   int `json:"runs"`
			Failed int `json:"failed"`
			Events int `json:"events"`
			Open   int `json:"open"`
		} `json:"summary"`
		Runs struct {
			T  []int64 `json:"t"`
			OK []bool  `json:"ok"`
		} `json:"runs"`
		Series struct {
			T     []int64           `json:"t"`
			Total []*int            `json:"total"`
			Open  map[string][]*int `json:"open"`
		} `json:"series"`
		KM []struct {
			Cat    string   `json:"cat"`
			N      int      `json:"n"`
			Closed int      `json:"closed"`
			Median *float64 `json:"median"`
		} `json:"km"`
		Roads []struct {
			Road string `json:"road"`
			N    int    `json:"n"`
		} `json:"roads"`
		NoRoads []string `json:"noRoads"`
	} `json:"scopes"`
	Events struct {
		Feed   []int             `json:"feed"`
		ID     []string          `json:"id"`
		Cat    []int             `json:"cat"`
		Impact []string          `json:"impact"`
		Road   []string          `json:"road"`
		Dir    []string          `json:"dir"`
		Geom   []json.RawMessage `json:"geom"`
	} `json:"events"`
}

var dataScript = regexp.MustCompile(`(?s)<script id="report-data" type="application/json">(.*?)</script>`)

func renderHistory(t testing.TB, st *store.Store, opts report.Options) ([]byte, pageData) {
	t.Helper()
	d, err := report.Load(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	m := dataScript.FindSubmatch(buf.Bytes())
	if m == nil {
		t.Fatal("no report-data script in the page")
	}
	var p pageData
	if err := json.Unmarshal(m[1], &p); err != nil {
		t.Fatalf("the page's data: %v", err)
	}
	return buf.Bytes(), p
}

// TestReportOfTwoFeeds checks the page's data against the store's own
// counts on both databases: runs and failures, the intervals without a
// run as gaps, events, and the survival curves' sizes.
func TestReportOfTwoFeeds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := seedHistory(t, dbURL)
		ctx := context.Background()
		every := 12 * time.Hour // shorter than the runs' 13 h 17 min: some intervals have no run
		_, p := renderHistory(t, st, report.Options{Every: every, Now: historyStart, Tiles: report.DefaultTiles})
		if !slices.Equal(p.Feeds, []string{"511", "wzdx"}) || len(p.Scopes) != 3 || p.Every != int64(every/time.Second) {
			t.Fatalf("feeds %v, %d scopes, every %d s", p.Feeds, len(p.Scopes), p.Every)
		}
		all := p.Scopes[0]
		if all.Summary.Runs != 40 || all.Summary.Failed != 1 || len(all.Runs.T) != 40 {
			t.Errorf("all feeds: %d runs, %d failed; want 40 and 1", all.Summary.Runs, all.Summary.Failed)
		}
		var events, open int
		err := st.Events(ctx, store.Filter{}, func(e *store.Event) error {
			events++
			if e.ClosedAt == nil {
				open++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if all.Summary.Events != events || all.Summary.Open != open || len(p.Events.ID) != events {
			t.Errorf("events %d (open %d), page has %d (open %d) and %d ids", events, open, all.Summary.Events, all.Summary.Open, len(p.Events.ID))
		}
		if km := all.KM[0]; km.Cat != "" || km.N != events || km.Closed != events-open {
			t.Errorf("survival of all: %q n %d closed %d, want n %d closed %d", km.Cat, km.N, km.Closed, events, events-open)
		}
		perFeed := 0
		for _, sc := range p.Scopes[1:] {
			perFeed += sc.Summary.Events
		}
		if perFeed != events {
			t.Errorf("the feeds' scopes hold %d events, want %d", perFeed, events)
		}

		// An interval is a gap exactly when a feed that was being
		// collected then has no successful run in it.
		succeeded := map[string][]time.Time{}
		st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error {
			if r.Status == store.RunSucceeded {
				succeeded[r.Feed] = append(succeeded[r.Feed], r.StartedAt)
			}
			return nil
		})
		gaps := 0
		for i, t0 := range all.Series.T {
			start := time.Unix(t0, 0)
			end := start.Add(every)
			missing := false
			for _, runs := range succeeded {
				collecting := !runs[0].After(end) && runs[len(runs)-1].After(start)
				has := slices.ContainsFunc(runs, func(r time.Time) bool { return !r.Before(start) && r.Before(end) })
				missing = missing || collecting && !has
			}
			if got := all.Series.Total[i] == nil; got != missing {
				t.Errorf("interval %s: gap %v, want %v", start.UTC(), got, missing)
			}
			if missing {
				gaps++
			}
		}
		if gaps == 0 || len(all.Series.T) < 20 {
			t.Errorf("%d intervals, %d gaps: the history should have both", len(all.Series.T), gaps)
		}
	})
}

// TestReportIntervalsInZone: with a time zone, the report's daily
// intervals start at local midnight, as export --table counts --tz does.
func TestReportIntervalsInZone(t *testing.T) {
	st := seedHistory(t, dbtest.SQLite(t))
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	page, p := renderHistory(t, st, report.Options{Every: 24 * time.Hour, Location: la, Now: historyStart})
	starts := p.Scopes[0].Series.T
	if len(starts) < 10 {
		t.Fatalf("%d intervals, want a day each for 11 days", len(starts))
	}
	for _, s := range starts {
		if local := time.Unix(s, 0).In(la); local.Hour() != 0 || local.Minute() != 0 {
			t.Errorf("an interval starts at %s, not at midnight in Los Angeles", local)
		}
	}
	if !bytes.Contains(page, []byte(`"tz":"America/Los_Angeles"`)) || !bytes.Contains(page, []byte(`"aligned":"midnight in America/Los_Angeles"`)) {
		t.Error("the page does not say its zone and alignment")
	}
}

// TestReportEscapesFeedText renders text a feed controls: it must stay
// data, never end the data's script element or become markup.
func TestReportEscapesFeedText(t *testing.T) {
	hostile := `</script><script>alert(1)</script><!--`
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &report.Data{
		Title: hostile, Generated: at, Every: time.Hour,
		Events: []report.Event{{Feed: "f", ID: hostile, Headline: hostile, Category: hostile, Impact: hostile, Road: hostile, Direction: hostile, FirstSeen: at, LastSeen: at,
			Link: "javascript:alert(1)", Geometry: `{"type":"Point","coordinates":[-122.123456789,37.5]}`}},
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Count(page, "<script") != 4 || strings.Contains(page, "alert(1)</script>") || strings.Contains(page, "javascript:") {
		t.Errorf("feed text escaped its place: %d script tags", strings.Count(page, "<script"))
	}
	if !strings.Contains(page, "<title>&lt;/script&gt;") {
		t.Error("the title is not escaped as text")
	}
	if !strings.Contains(page, `"coordinates":[-122.12346,37.5]`) {
		t.Error("coordinates are not rounded to 5 decimals")
	}
}

// TestReportOneVocabulary: an Open511 and a WZDx feed are grouped by the
// one vocabulary's category, whose colour is the same on every page; top
// roads count the road column; the map has each event's impact, road and
// direction as stored.
func TestReportOneVocabulary(t *testing.T) {
	st := seedHistory(t, dbtest.SQLite(t))
	ctx := context.Background()
	type stored struct{ feed, category, impact, road, direction string }
	byID := map[string]stored{}
	perCategory := map[string]map[string]int{} // category -> feed -> events
	err := st.Events(ctx, store.Filter{}, func(e *store.Event) error {
		byID[e.ID] = stored{e.Feed, e.Category, e.Impact, e.Road, e.Direction}
		if perCategory[e.Category] == nil {
			perCategory[e.Category] = map[string]int{}
		}
		perCategory[e.Category][e.Feed]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if perCategory["construction"]["511"] == 0 || perCategory["construction"]["wzdx"] == 0 {
		t.Fatalf("the history should have construction in both feeds: %v", perCategory)
	}

	_, p := renderHistory(t, st, report.Options{Every: 24 * time.Hour, Now: historyStart})
	var want []string
	for _, c := range traffic.Categories {
		if perCategory[c] != nil {
			want = append(want, c)
		}
	}
	if !slices.Equal(p.Categories, want) || len(p.Colours) != len(want) {
		t.Fatalf("categories %v (colours %v), want the stored ones in the vocabulary's order %v", p.Categories, p.Colours, want)
	}
	for c := range p.Scopes[0].Series.Open {
		if !slices.Contains(traffic.Categories, c) {
			t.Errorf("active events have a series for %q, not a category", c)
		}
	}
	for _, km := range p.Scopes[0].KM[1:] {
		if n := perCategory[km.Cat]["511"] + perCategory[km.Cat]["wzdx"]; km.N != n {
			t.Errorf("survival of %q: %d events, want both feeds' %d", km.Cat, km.N, n)
		}
	}
	for i, id := range p.Events.ID {
		e := byID[id]
		got := stored{p.Feeds[p.Events.Feed[i]], p.Categories[p.Events.Cat[i]], p.Events.Impact[i], p.Events.Road[i], p.Events.Dir[i]}
		if got != e {
			t.Fatalf("event %s on the page: %+v, stored %+v", id, got, e)
		}
	}

	// A category's colour is the same on pages of different feeds.
	colour := func(p pageData, c string) string {
		t.Helper()
		i := slices.Index(p.Categories, c)
		if i < 0 {
			t.Fatalf("no %q on the page of %v", c, p.Feeds)
		}
		return p.Colours[i]
	}
	_, p511 := renderHistory(t, st, report.Options{Feeds: []string{"511"}, Every: 24 * time.Hour, Now: historyStart})
	_, pWZDx := renderHistory(t, st, report.Options{Feeds: []string{"wzdx"}, Every: 24 * time.Hour, Now: historyStart})
	if !slices.Equal(p511.Feeds, []string{"511"}) || !slices.Equal(pWZDx.Feeds, []string{"wzdx"}) {
		t.Fatalf("feeds %v and %v", p511.Feeds, pWZDx.Feeds)
	}
	if a, b, all := colour(p511, "construction"), colour(pWZDx, "construction"), colour(p, "construction"); a != b || a != all {
		t.Errorf("construction is %s on 511's page, %s on wzdx's and %s on both", a, b, all)
	}
	if slices.Equal(p511.Categories, pWZDx.Categories) {
		t.Errorf("both feeds have categories %v: the colours were not tested across different sets", p511.Categories)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(p.Colours)))) != len(p.Colours) {
		t.Errorf("two categories share a colour: %v %v", p.Categories, p.Colours)
	}

	// Top roads: events by road, without direction; the 2021 Open511
	// snapshots name no roads, and the page says so.
	roads := map[string]int{}
	for _, e := range byID {
		if e.road != "" {
			roads[e.road]++
		}
	}
	all, of511, ofWZDx := p.Scopes[0], p.Scopes[1], p.Scopes[2]
	if len(all.Roads) == 0 || !slices.Equal(all.NoRoads, []string{"511"}) {
		t.Fatalf("top roads %v, feeds without roads %v: want wzdx's roads and 511 named", all.Roads, all.NoRoads)
	}
	for i, r := range all.Roads {
		if r.N != roads[r.Road] || i > 0 && r.N > all.Roads[i-1].N {
			t.Errorf("top road %d %q: %d events, stored %d (or out of order)", i, r.Road, r.N, roads[r.Road])
		}
		if strings.Contains(r.Road, "bound") || strings.Contains(r.Road, "(") {
			t.Errorf("top road %q names a direction", r.Road)
		}
	}
	if len(of511.Roads) != 0 || !slices.Equal(of511.NoRoads, []string{"511"}) || len(ofWZDx.Roads) == 0 || len(ofWZDx.NoRoads) != 0 {
		t.Errorf("511: roads %v, without %v; wzdx: roads %d, without %v", of511.Roads, of511.NoRoads, len(ofWZDx.Roads), ofWZDx.NoRoads)
	}
}
