// Package report turns what trafficctl collected into one self-contained
// HTML file: collection health, active events over time, how long events
// last (Kaplan–Meier), a map, top roads and the longest-open events. Its
// input is plain data (Data, read from the store by Load); Render writes
// the page.
package report

import (
	"cmp"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Data is everything a report shows, as read from the store.
type Data struct {
	Title     string
	Version   string // trafficctl's
	Generated time.Time
	Location  *time.Location // times are shown in it; nil is UTC
	// Since and Until are the window asked for (zero: unbounded).
	Since, Until time.Time
	Every        time.Duration // the counts' interval
	// Aligned says where the counts' intervals start, for the page to say.
	Aligned string
	// Tiles is the basemap's tile URL template ({z}/{x}/{y}); "" for none.
	Tiles string

	Runs      []store.FetchRun
	Counts    []store.IntervalCount // grouped by category
	Lifetimes []store.Lifetime
	Events    []Event
}

// Event is what the map and tables show of one event.
type Event struct {
	Feed, ID, Headline string
	Category           string // one of traffic.Categories
	Impact             string // one of the traffic Impact values
	Road, Direction    string // the first road's name and direction
	Geometry           string // GeoJSON geometry, or "" (then Lat/Lon if any)
	Lat, Lon           *float64
	FirstSeen          time.Time
	LastSeen           time.Time
	Closed             *time.Time
	Link               string
}

// categoryOf is the name an event's stored category is shown by: the
// category itself, or "(none)" for an empty one (not in the vocabulary,
// so drawn grey).
func categoryOf(category string) string {
	if category == "" {
		return "(none)"
	}
	return category
}

// categoryGroup is the store's grouping that gives categoryOf's values.
const categoryGroup = store.ByCategory

// categoryColours give each category of traffic.Categories the same
// colour on every page, whichever feeds and categories it shows, so that
// reports of different feeds can be read side by side.
var categoryColours = map[string]string{
	traffic.CategoryIncident:      "#d62728",
	traffic.CategoryConstruction:  "#ff7f0e",
	traffic.CategorySpecialEvent:  "#9467bd",
	traffic.CategoryWeather:       "#1f77b4",
	traffic.CategoryRoadCondition: "#17becf",
	traffic.CategoryDetour:        "#2ca02c",
	traffic.CategoryRestriction:   "#8c564b",
	traffic.CategoryOther:         "#e377c2",
}

// otherColour is for a category outside the vocabulary.
const otherColour = "#7f7f7f"

// categoryColour is the colour category is drawn in on every page.
func categoryColour(category string) string {
	if c, ok := categoryColours[category]; ok {
		return c
	}
	return otherColour
}

// page is the JSON the page's script draws from. Times are Unix seconds.
type page struct {
	Title      string   `json:"title"`
	Generated  int64    `json:"generated"`
	TZ         string   `json:"tz"`
	Since      *int64   `json:"since"`
	Until      *int64   `json:"until"`
	Every      int64    `json:"every"`
	Aligned    string   `json:"aligned"`
	Tiles      string   `json:"tiles"`
	Feeds      []string `json:"feeds"`
	Categories []string `json:"categories"`
	Colours    []string `json:"colours"` // one per category
	Scopes     []scope  `json:"scopes"`
	Events     events   `json:"events"`
}

// scope is one view of the report: all feeds, or one.
type scope struct {
	Name    string     `json:"name"`
	Feed    int        `json:"feed"` // index in Feeds; -1 for all
	Summary summary    `json:"summary"`
	Runs    runs       `json:"runs"`
	Gaps    [][2]int64 `json:"gaps"`
	Series  series     `json:"series"`
	KM      []curve    `json:"km"`
	Roads   []road     `json:"roads"`
	// NoRoads are the scope's feeds whose events name no road.
	NoRoads []string `json:"noRoads"`
	Longest []int    `json:"longest"` // indexes into events
}

type summary struct {
	Runs        int    `json:"runs"`
	Failed      int    `json:"failed"`
	Events      int    `json:"events"`
	Open        int    `json:"open"`
	SeenAtStart int    `json:"seenAtStart"`
	First       *int64 `json:"first"`
	Last        *int64 `json:"last"`
}

// runs are columns: one entry per run, in start order.
type runs struct {
	T        []int64  `json:"t"`
	Feed     []int    `json:"feed"`
	OK       []bool   `json:"ok"`
	Received []int    `json:"n"`
	Error    []string `json:"err"`
}

// series are the counts per interval; nil is an interval with no run.
type series struct {
	T      []int64           `json:"t"`
	Open   map[string][]*int `json:"open"` // by category
	Total  []*int            `json:"total"`
	New    []*int            `json:"new"`
	Closed []*int            `json:"closed"`
}

// curve is one category's Kaplan–Meier estimate, in seconds.
type curve struct {
	Category    string    `json:"cat"` // "" for all categories
	N           int       `json:"n"`
	Closed      int       `json:"closed"`
	SeenAtStart int       `json:"seenAtStart"`
	T           []float64 `json:"t"`
	S           []float64 `json:"s"`
	Lo          []float64 `json:"lo"`
	Hi          []float64 `json:"hi"`
	Censored    []float64 `json:"censored"` // durations of open events
	Started     []float64 `json:"started"`  // durations of events seen in the first run
	Median      *float64  `json:"median"`
	MedianLo    *float64  `json:"medianLo"`
	MedianHi    *float64  `json:"medianHi"`
}

type road struct {
	Road string `json:"road"`
	N    int    `json:"n"`
}

// events are columns: one entry per event.
type events struct {
	Feed        []int             `json:"feed"`
	ID          []string          `json:"id"`
	Headline    []string          `json:"headline"`
	Category    []int             `json:"cat"`
	Impact      []string          `json:"impact"`
	Road        []string          `json:"road"`
	Direction   []string          `json:"dir"`
	Geometry    []json.RawMessage `json:"geom"`
	First       []int64           `json:"first"`
	Last        []int64           `json:"last"`
	Closed      []*int64          `json:"closed"`
	SeenAtStart []bool            `json:"seenAtStart"`
	Link        []string          `json:"link"`
}

// build assembles the page from d.
func build(d *Data) *page {
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	p := &page{Title: d.Title, Generated: d.Generated.Unix(), TZ: loc.String(), Every: int64(d.Every / time.Second),
		Aligned: d.Aligned, Tiles: d.Tiles}
	if !d.Since.IsZero() {
		p.Since = ptr(d.Since.Unix())
	}
	if !d.Until.IsZero() {
		p.Until = ptr(d.Until.Unix())
	}
	feedIndex := map[string]int{}
	addFeed := func(f string) {
		if _, ok := feedIndex[f]; !ok {
			feedIndex[f] = len(p.Feeds)
			p.Feeds = append(p.Feeds, f)
		}
	}
	for _, r := range d.Runs {
		addFeed(r.Feed)
	}
	for _, e := range d.Events {
		addFeed(e.Feed)
	}
	for _, l := range d.Lifetimes {
		addFeed(l.Feed)
	}
	slices.Sort(p.Feeds)
	for i, f := range p.Feeds {
		feedIndex[f] = i
	}
	// Categories present, in the vocabulary's order (others after it), so
	// that legends list them alike on every page.
	present := map[string]bool{}
	for _, e := range d.Events {
		present[e.Category] = true
	}
	for _, c := range d.Counts {
		if c.Group != nil {
			present[categoryOf(*c.Group)] = true
		}
	}
	rank := func(c string) int {
		if i := slices.Index(traffic.Categories, c); i >= 0 {
			return i
		}
		return len(traffic.Categories)
	}
	p.Categories = slices.SortedFunc(mapKeys(present), func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
	})
	for _, c := range p.Categories {
		p.Colours = append(p.Colours, categoryColour(c))
	}
	catIndex := map[string]int{}
	for i, c := range p.Categories {
		catIndex[c] = i
	}

	seenAtStart := map[[2]string]bool{}
	for _, l := range d.Lifetimes {
		if l.SeenAtStart {
			seenAtStart[[2]string{l.Feed, l.ID}] = true
		}
	}
	ev := &p.Events
	for _, e := range d.Events {
		ev.Feed = append(ev.Feed, feedIndex[e.Feed])
		ev.ID = append(ev.ID, e.ID)
		ev.Headline = append(ev.Headline, e.Headline)
		ev.Category = append(ev.Category, catIndex[e.Category])
		ev.Impact = append(ev.Impact, e.Impact)
		ev.Road = append(ev.Road, e.Road)
		ev.Direction = append(ev.Direction, e.Direction)
		ev.Geometry = append(ev.Geometry, geometryOf(&e))
		ev.First = append(ev.First, e.FirstSeen.Unix())
		ev.Last = append(ev.Last, e.LastSeen.Unix())
		var closed *int64
		if e.Closed != nil {
			closed = ptr(e.Closed.Unix())
		}
		ev.Closed = append(ev.Closed, closed)
		ev.SeenAtStart = append(ev.SeenAtStart, seenAtStart[[2]string{e.Feed, e.ID}])
		ev.Link = append(ev.Link, safeLink(e.Link))
	}

	runs := slices.Clone(d.Runs)
	slices.SortStableFunc(runs, func(a, b store.FetchRun) int { return a.StartedAt.Compare(b.StartedAt) })
	p.Scopes = append(p.Scopes, buildScope(d, p, runs, feedIndex, "All feeds", -1))
	if len(p.Feeds) > 1 {
		for i, f := range p.Feeds {
			p.Scopes = append(p.Scopes, buildScope(d, p, runs, feedIndex, f, i))
		}
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// buildScope is the view of one feed (feed >= 0) or of all; runs are
// d.Runs by start time and feedIndex gives each feed's index in p.Feeds.
func buildScope(d *Data, p *page, runs []store.FetchRun, feedIndex map[string]int, name string, feed int) scope {
	in := func(f string) bool { return feed < 0 || p.Feeds[feed] == f }
	sc := scope{Name: name, Feed: feed, Gaps: [][2]int64{}, Roads: []road{}, NoRoads: []string{}, Longest: []int{}}

	// Runs and gaps.
	ok := map[string][]store.RunStart{}
	for _, r := range runs {
		if !in(r.Feed) {
			continue
		}
		sc.Runs.T = append(sc.Runs.T, r.StartedAt.Unix())
		sc.Runs.Feed = append(sc.Runs.Feed, feedIndex[r.Feed])
		sc.Runs.OK = append(sc.Runs.OK, r.Status == store.RunSucceeded)
		sc.Runs.Received = append(sc.Runs.Received, r.EventsReceived)
		sc.Runs.Error = append(sc.Runs.Error, r.Error)
		sc.Summary.Runs++
		if r.Status == store.RunSucceeded {
			ok[r.Feed] = append(ok[r.Feed], store.RunStart{ID: r.ID, Feed: r.Feed, Started: r.StartedAt})
		} else {
			sc.Summary.Failed++
		}
	}
	if n := len(sc.Runs.T); n > 0 {
		sc.Summary.First, sc.Summary.Last = ptr(sc.Runs.T[0]), ptr(sc.Runs.T[n-1])
	}
	for _, f := range slices.Sorted(mapKeys(ok)) {
		_, gaps := store.FindGaps(ok[f])
		for _, g := range gaps {
			sc.Gaps = append(sc.Gaps, [2]int64{g.Start.Unix(), g.End.Unix()})
		}
	}

	sc.Series = buildSeries(d.Counts, d.Every, p.Categories, in)
	sc.KM, sc.Summary.SeenAtStart = buildCurves(d.Lifetimes, p.Categories, in)

	// Top roads and the longest-open events.
	roadCount := map[string]int{}
	named := map[string]bool{} // feeds with events, and whether any names a road
	var open []int
	for i, e := range d.Events {
		if !in(e.Feed) {
			continue
		}
		sc.Summary.Events++
		named[e.Feed] = named[e.Feed] || e.Road != ""
		if e.Road != "" {
			roadCount[e.Road]++
		}
		if e.Closed == nil {
			sc.Summary.Open++
			open = append(open, i)
		}
	}
	for r, n := range roadCount {
		sc.Roads = append(sc.Roads, road{r, n})
	}
	slices.SortFunc(sc.Roads, func(a, b road) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Road, b.Road)) })
	sc.Roads = sc.Roads[:min(len(sc.Roads), topN)]
	for _, f := range slices.Sorted(mapKeys(named)) {
		if !named[f] {
			sc.NoRoads = append(sc.NoRoads, f)
		}
	}
	slices.SortStableFunc(open, func(a, b int) int {
		da, db := d.Events[a].LastSeen.Sub(d.Events[a].FirstSeen), d.Events[b].LastSeen.Sub(d.Events[b].FirstSeen)
		return cmp.Compare(db, da)
	})
	sc.Longest = append(sc.Longest, open[:min(len(open), topN)]...)
	return sc
}

// topN is how many rows the tables show.
const topN = 15

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// buildSeries adds up the counts of the feeds in scope, interval by
// interval (of length every, or a day's 23 or 25 hours). An interval is missing (nil) when a feed whose series covers
// it had no run in it: its events are unknown, and a sum without them
// would look like a drop.
func buildSeries(counts []store.IntervalCount, every time.Duration, categories []string, in func(string) bool) series {
	type cell struct {
		open, new, closed map[string]int
		missing, known    bool
	}
	cells := map[int64]*cell{}
	for _, c := range counts {
		if !in(c.Feed) {
			continue
		}
		t := c.Start.Unix()
		x := cells[t]
		if x == nil {
			x = &cell{open: map[string]int{}, new: map[string]int{}, closed: map[string]int{}}
			cells[t] = x
		}
		if !c.HasData() {
			x.missing = true
			continue
		}
		x.known = true
		if c.Group == nil {
			continue // an interval whose runs saw nothing
		}
		g := categoryOf(*c.Group)
		x.open[g] += c.Open
		x.new[g] += c.New
		x.closed[g] += c.Closed
	}
	s := series{Open: map[string][]*int{}}
	missing := func(t int64) {
		s.T = append(s.T, t)
		s.Total, s.New, s.Closed = append(s.Total, nil), append(s.New, nil), append(s.Closed, nil)
		for _, c := range categories {
			s.Open[c] = append(s.Open[c], nil)
		}
	}
	ts := slices.Sorted(mapKeys(cells))
	for i, t := range ts {
		// Between feeds' series (collected at different times) there are
		// no intervals at all: a missing one breaks the line there.
		if i > 0 && t-ts[i-1] > int64((every+time.Hour)/time.Second) {
			missing(ts[i-1] + int64(every/time.Second))
		}
		x := cells[t]
		if x.missing || !x.known {
			missing(t)
			continue
		}
		s.T = append(s.T, t)
		total, nw, cl := 0, 0, 0
		for _, c := range categories {
			total += x.open[c]
			nw += x.new[c]
			cl += x.closed[c]
			s.Open[c] = append(s.Open[c], ptr(x.open[c]))
		}
		s.Total, s.New, s.Closed = append(s.Total, &total), append(s.New, &nw), append(s.Closed, &cl)
	}
	// A category never open in this scope draws nothing.
	for c, v := range s.Open {
		if !slices.ContainsFunc(v, func(n *int) bool { return n != nil && *n > 0 }) {
			delete(s.Open, c)
		}
	}
	return s
}

// buildCurves estimates survival for all the scope's events and per
// category. Open events are right-censored at their duration so far.
func buildCurves(lifetimes []store.Lifetime, categories []string, in func(string) bool) ([]curve, int) {
	type group struct {
		obs               []Observation
		censored, started []float64
	}
	groups := map[string]*group{"": {}}
	seenAtStart := 0
	for i := range lifetimes {
		l := &lifetimes[i]
		if !in(l.Feed) {
			continue
		}
		cat := categoryOf(l.Category)
		if groups[cat] == nil {
			groups[cat] = &group{}
		}
		o := Observation{Duration: l.Duration().Seconds(), Closed: !l.Open()}
		for _, g := range []*group{groups[""], groups[cat]} {
			g.obs = append(g.obs, o)
			if !o.Closed {
				g.censored = append(g.censored, o.Duration)
			}
			if l.SeenAtStart {
				g.started = append(g.started, o.Duration)
			}
		}
		if l.SeenAtStart {
			seenAtStart++
		}
	}
	var out []curve
	for _, cat := range append([]string{""}, categories...) {
		g := groups[cat]
		if g == nil || len(g.obs) == 0 {
			continue
		}
		km := KaplanMeier(g.obs)
		c := curve{Category: cat, N: km.N, Closed: km.Closed, SeenAtStart: len(g.started), Median: km.Median, MedianLo: km.MedianLo, MedianHi: km.MedianHi,
			T: []float64{0}, S: []float64{1}, Lo: []float64{1}, Hi: []float64{1}, Censored: g.censored, Started: g.started}
		for _, st := range km.Steps {
			c.T, c.S, c.Lo, c.Hi = append(c.T, st.Time), append(c.S, round(st.Survival)), append(c.Lo, round(st.Lower)), append(c.Hi, round(st.Upper))
		}
		if c.Censored == nil {
			c.Censored = []float64{}
		}
		if c.Started == nil {
			c.Started = []float64{}
		}
		out = append(out, c)
	}
	return out, seenAtStart
}

func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// geometryOf is the event's geometry with coordinates rounded to 5
// decimals (about a metre), or a point at Lat/Lon, or null.
func geometryOf(e *Event) json.RawMessage {
	if e.Geometry != "" {
		var g struct {
			Type        string `json:"type"`
			Coordinates any    `json:"coordinates"`
		}
		if json.Unmarshal([]byte(e.Geometry), &g) == nil && g.Type != "" && g.Coordinates != nil {
			g.Coordinates = roundCoords(g.Coordinates)
			if b, err := json.Marshal(g); err == nil {
				return b
			}
		}
	}
	if e.Lat != nil && e.Lon != nil {
		b, _ := json.Marshal(map[string]any{"type": "Point", "coordinates": []float64{roundCoord(*e.Lon), roundCoord(*e.Lat)}})
		return b
	}
	return json.RawMessage("null")
}

func roundCoords(v any) any {
	switch x := v.(type) {
	case float64:
		return roundCoord(x)
	case []any:
		for i := range x {
			x[i] = roundCoords(x[i])
		}
	}
	return v
}

func roundCoord(v float64) float64 { return math.Round(v*1e5) / 1e5 }

// safeLink keeps only http and https links: a feed's text must not become
// a javascript: URL in the page.
func safeLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}
