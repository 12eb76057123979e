package report

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// Options select what a report covers.
type Options struct {
	Feeds        []string  // only these feeds; none: all
	Since, Until time.Time // the window [Since, Until); zero: unbounded
	Location     *time.Location
	// Every is the interval of the active-events series; zero chooses one
	// from the runs' pace and the window's length.
	Every   time.Duration
	Title   string
	Version string    // trafficctl's, shown in the page
	Now     time.Time // when the report was made
	// Tiles is the basemap's tile URL template; "" draws no basemap.
	Tiles string
}

// DefaultTiles are OpenStreetMap's standard tiles.
const DefaultTiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

// Source is what a report reads: the store's streaming queries.
type Source interface {
	Runs(ctx context.Context, f store.Filter, fn func(*store.FetchRun) error) error
	IntervalCounts(ctx context.Context, f store.Filter, q store.Series, fn func(*store.IntervalCount) error) error
	Lifetimes(ctx context.Context, f store.Filter, fn func(*store.Lifetime) error) error
	Events(ctx context.Context, f store.Filter, fn func(*store.Event) error) error
}

// Load reads a report's data. Each part is one read of the store; a fetch
// that commits between them can show in some parts and not in others.
func Load(ctx context.Context, src Source, opts Options) (*Data, error) {
	f := store.Filter{Feeds: opts.Feeds, Since: opts.Since, Until: opts.Until}
	d := &Data{Title: opts.Title, Version: opts.Version, Generated: opts.Now, Location: opts.Location, Since: opts.Since, Until: opts.Until, Tiles: opts.Tiles}
	if d.Title == "" {
		d.Title = "trafficctl report"
	}
	err := src.Runs(ctx, f, func(r *store.FetchRun) error {
		d.Runs = append(d.Runs, *r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	d.Every = opts.Every
	if d.Every == 0 {
		d.Every = chooseEvery(d.Runs, opts.Since, opts.Until)
	}
	q := store.Series{Every: d.Every, By: categoryGroup, Location: opts.Location}
	d.Aligned = "the Unix epoch (UTC)"
	if opts.Location != nil && opts.Location.String() != "UTC" {
		d.Aligned = "midnight in " + opts.Location.String()
	}
	err = src.IntervalCounts(ctx, f, q, func(c *store.IntervalCount) error {
		x := *c
		if c.Group != nil {
			x.Group = ptr(*c.Group)
		}
		d.Counts = append(d.Counts, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count the active events: %w", err)
	}
	err = src.Lifetimes(ctx, f, func(l *store.Lifetime) error {
		d.Lifetimes = append(d.Lifetimes, *l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the event lifetimes: %w", err)
	}
	// An Open511 event's url is relative to the API it came from.
	base := map[string]*url.URL{}
	for _, r := range d.Runs {
		if u, err := url.Parse(r.SourceURL); err == nil && r.SourceURL != "" {
			base[r.Feed] = u
		}
	}
	f.WithRaw = true
	err = src.Events(ctx, f, func(e *store.Event) error {
		x := Event{Feed: e.Feed, ID: e.ID, Headline: e.Headline, Category: categoryOf(e.Category), Impact: e.Impact,
			Road: e.Road, Direction: e.Direction,
			Geometry: e.Geometry, Lat: e.Lat, Lon: e.Lon, FirstSeen: e.FirstSeenAt, Closed: e.ClosedAt}
		if e.LastSeenAt != nil {
			x.LastSeen = *e.LastSeenAt
		}
		x.Link = eventLink(e.Raw, base[e.Feed], e.Lat, e.Lon)
		d.Events = append(d.Events, x)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the events: %w", err)
	}
	return d, nil
}

// eventLink is the event's own url if the feed gives one (resolved against
// the feed's address), else a map link to its position, else "".
func eventLink(raw string, base *url.URL, lat, lon *float64) string {
	if s := fastjson.GetString([]byte(raw), "url"); s != "" {
		if u, err := url.Parse(s); err == nil {
			if base != nil {
				u = base.ResolveReference(u)
			}
			if l := safeLink(u.String()); l != "" {
				return l
			}
		}
	}
	if lat != nil && lon != nil {
		return fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.5f&mlon=%.5f#map=16/%.5f/%.5f", *lat, *lon, *lat, *lon)
	}
	return ""
}

// intervals an automatic Every is chosen from.
var intervals = []time.Duration{
	time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// maxIntervals bounds the points of a series, and so the page's size.
const maxIntervals = 1500

// chooseEvery picks the shortest interval that holds a run or two of
// each feed on average (shorter ones would be mostly gaps) and gives at most
// maxIntervals points over each feed's runs in the window: a feed's series
// covers its own runs only, so feeds collected in different years do not
// stretch each other's.
func chooseEvery(runs []store.FetchRun, since, until time.Time) time.Duration {
	perFeed := map[string][]time.Time{}
	for _, r := range runs {
		if r.Status == store.RunSucceeded {
			perFeed[r.Feed] = append(perFeed[r.Feed], r.StartedAt)
		}
	}
	var want time.Duration
	for _, rs := range perFeed {
		slices.SortFunc(rs, time.Time.Compare)
		first, last := rs[0], rs[len(rs)-1]
		// The mean time between runs, not the median: runs in bursts
		// (by hand, or archives of a tutorial) have a median of minutes
		// and would leave most intervals without a run.
		var pace time.Duration
		if len(rs) > 1 {
			pace = last.Sub(first) / time.Duration(len(rs)-1)
		}
		if !since.IsZero() {
			first = since
		}
		if !until.IsZero() {
			last = until
		}
		want = max(want, pace*3/2, last.Sub(first)/maxIntervals)
	}
	for _, every := range intervals {
		if every >= want {
			return every
		}
	}
	return intervals[len(intervals)-1]
}
