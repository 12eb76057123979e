package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// What a counts series can be grouped by.
const (
	ByNone      = "none"
	ByFeed      = "feed" // the same rows as none: every row has its feed anyway
	ByEventType = "event_type"
	BySeverity  = "severity"
	ByCategory  = "category"
)

// GroupBys lists the values of Series.By.
var GroupBys = []string{ByNone, ByFeed, ByEventType, BySeverity, ByCategory}

// DefaultEvery is a Series' interval when it has none.
const DefaultEvery = time.Hour

// Series asks for a regular time series of counts per feed.
type Series struct {
	// Every is the length of an interval, at least a second (zero:
	// DefaultEvery). Intervals are aligned as Grid says: to the Unix epoch
	// in UTC, to local midnight in Location.
	Every time.Duration
	// Location is the time zone of the intervals; nil is UTC.
	Location *time.Location
	// By groups each interval's events: ByEventType, BySeverity or
	// ByCategory (the value the event had in the run it is counted at), or
	// ByNone/ByFeed (or empty: none).
	By string
}

// Grid is the series' division of time.
func (q Series) Grid() Grid { return Grid{Every: q.orDefaults().Every, Loc: q.Location} }

// Grouped says whether the rows have a group value.
func (q Series) Grouped() bool {
	return q.By == ByEventType || q.By == BySeverity || q.By == ByCategory
}

func (q Series) orDefaults() Series {
	if q.Every == 0 {
		q.Every = DefaultEvery
	}
	if q.By == "" {
		q.By = ByNone
	}
	return q
}

// Check says what is wrong with q, if anything.
func (q Series) Check() error {
	q = q.orDefaults()
	if err := q.Grid().Check(); err != nil {
		return err
	}
	if !slices.Contains(GroupBys, q.By) {
		return fmt.Errorf("cannot group by %q: use none, feed, event_type, severity or category", q.By)
	}
	return nil
}

// IntervalCount is one row of a counts series: one interval of one feed,
// and, grouped, one group.
type IntervalCount struct {
	Start, End time.Time
	Feed       string
	// Group is the group's value; nil when not grouped, and for the one
	// row of an interval with no events to group (no runs, or runs that
	// saw nothing).
	Group *string
	// Runs counts the feed's successful runs that started in the
	// interval. With none, the counts below are unknown (missing data,
	// not zero).
	Runs int
	// Open counts the distinct events present in at least one of those
	// runs; New those first seen in the interval (by the run that first
	// listed them); Closed those closed in it (by a successful run that no
	// longer listed them, after one that did).
	Open, New, Closed int
}

// HasData says whether the interval had a successful run, so that its
// counts mean something.
func (c *IntervalCount) HasData() bool { return c.Runs > 0 }

// IntervalCounts streams a regular time series per feed, ordered by feed, interval
// and group. For each feed with a successful run (among f.Feeds, if
// given), the series covers the whole intervals that overlap
// [f.Since, f.Until), or without them from the interval of the feed's
// first successful run to that of its last. Every interval gets a row,
// those without a run too. f's content filters select which events are
// counted, by their state in each run.
//
// It sweeps the feed's snapshots in run order (as Snapshots does), from
// the successful run before the first interval (to tell which events the
// first run in it closed): memory holds one snapshot's ids and the
// current interval's.
func (s *Store) IntervalCounts(ctx context.Context, f Filter, q Series, fn func(*IntervalCount) error) error {
	if err := q.Check(); err != nil {
		return err
	}
	q = q.orDefaults()
	return s.read(ctx, func(db *gorm.DB) error {
		latest, err := s.latestRuns(db)
		if err != nil {
			return err
		}
		var feeds []string // those with a successful run, among f.Feeds
		for feed := range latest {
			if len(f.Feeds) == 0 || slices.Contains(f.Feeds, feed) {
				feeds = append(feeds, feed)
			}
		}
		sort.Strings(feeds)
		perFeed, err := s.seriesRuns(db, f, q.Grid(), feeds)
		if err != nil {
			return err
		}
		for _, feed := range feeds {
			// Checked for every feed before writing any row.
			if n, from, to := intervals(perFeed[feed], f, q.Grid()); n > MaxIntervals {
				return &TooManyIntervalsError{Feed: feed, Intervals: n, From: from, To: to, Every: q.Every}
			}
		}
		for _, feed := range feeds {
			if err := s.feedCounts(db, feed, perFeed[feed], latest, f, q, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// seriesRuns are the successful runs each feed's series needs, in id
// order: with f.Since, those from the start of its interval on (read
// through the index on start times) and the one before them, to tell what
// the first of them closed; without it, all of them.
func (s *Store) seriesRuns(db *gorm.DB, f Filter, grid Grid, feeds []string) (map[string][]RunStart, error) {
	window := Filter{Feeds: f.Feeds}
	if !f.Since.IsZero() && f.Since.Year() >= 1678 { // within Grid's int64 nanoseconds
		window.Since = grid.Floor(f.Since)
	}
	runs, err := s.successfulRuns(db, window)
	if err != nil {
		return nil, err
	}
	perFeed := map[string][]RunStart{}
	for _, r := range runs {
		perFeed[r.Feed] = append(perFeed[r.Feed], r)
	}
	if window.Since.IsZero() {
		return perFeed, nil
	}
	for _, feed := range feeds {
		if len(perFeed[feed]) == 0 {
			continue
		}
		before, ok, err := s.successBefore(db, feed, perFeed[feed][0].ID)
		if err != nil {
			return nil, err
		}
		if ok {
			perFeed[feed] = append([]RunStart{before}, perFeed[feed]...)
		}
	}
	return perFeed, nil
}

// MaxIntervals is the most intervals a feed's counts series may have: a
// million rows per feed (and group). A longer one is almost always a
// mistake (--every 1s since 1970 is 1.7e9 rows) that would fill a disk.
const MaxIntervals = 1_000_000

// TooManyIntervalsError is Counts' refusal of a series longer than
// MaxIntervals.
type TooManyIntervalsError struct {
	Feed      string
	Intervals int64
	From, To  time.Time
	Every     time.Duration
}

func (e *TooManyIntervalsError) Error() string {
	return fmt.Sprintf("the counts of feed %s from %s to %s would be %d intervals of %s, more than the %d an export may have",
		e.Feed, e.From.UTC().Format(time.RFC3339), e.To.UTC().Format(time.RFC3339), e.Intervals, e.Every, MaxIntervals)
}

// seriesSpan is the time a feed's series covers: [f.Since, f.Until), or
// without them from its first successful run to its last (runs, in order).
func seriesSpan(runs []RunStart, f Filter) (from, to time.Time) {
	if len(runs) > 0 { // none when f.Since is after the feed's last run
		from, to = runs[0].Started, runs[len(runs)-1].Started.Add(time.Nanosecond)
	}
	if !f.Since.IsZero() {
		from = f.Since
	}
	if !f.Until.IsZero() {
		to = f.Until
	}
	return from, to
}

// intervals is how many intervals a feed's series has (within a few
// hundredths in a zone whose clocks change), and the time it covers.
func intervals(runs []RunStart, f Filter, grid Grid) (n int64, from, to time.Time) {
	from, to = seriesSpan(runs, f)
	if !from.Before(to) {
		return 0, from, to
	}
	if from.Year() < 1678 || to.Year() > 2261 {
		// Beyond int64 nanoseconds, which Grid counts in: to.Sub(from)
		// saturates, and so does this estimate.
		return int64(to.Sub(from)/grid.Every) + 1, from, to
	}
	span := grid.Next(grid.Floor(to.Add(-time.Nanosecond))).Sub(grid.Floor(from))
	return int64((span + grid.Every - 1) / grid.Every), from, to
}

// feedCounts is one feed's series. runs are its successful runs in id
// order, which is the order they started in (a feed's runs take turns).
func (s *Store) feedCounts(db *gorm.DB, feed string, runs []RunStart, latest latestRuns, f Filter, q Series, fn func(*IntervalCount) error) error {
	from, to := seriesSpan(runs, f)
	if !from.Before(to) {
		return nil
	}
	grid := q.Grid()
	windowStart, windowEnd := grid.Floor(from), grid.Next(grid.Floor(to.Add(-time.Nanosecond))) // whole intervals
	i0 := sort.Search(len(runs), func(i int) bool { return !runs[i].Started.Before(windowStart) })
	i1 := sort.Search(len(runs), func(i int) bool { return !runs[i].Started.Before(windowEnd) })
	c := &counter{feed: feed, q: q, grid: grid, f: f, fn: fn, start: windowStart, prev: map[string]presence{}, cur: map[string]presence{}}
	c.reset()
	if i0 < i1 {
		sweep := runs[max(i0-1, 0):i1] // with the run before, if any, to know what was open
		c.windowFirst = runs[i0].ID
		next := 0 // the run of sweep that the next row may belong to
		if err := c.beginRun(sweep[0]); err != nil {
			return err
		}
		// Rows come run by run; a run with no rows (an empty snapshot)
		// still counts, and closes what was open.
		err := s.sweep(db, sweep, latest, Filter{Feeds: []string{feed}}, func(r *SnapshotRow) error {
			for sweep[next].ID != r.RunID {
				c.endRun()
				next++
				if err := c.beginRun(sweep[next]); err != nil {
					return err
				}
			}
			c.row(r)
			return nil
		})
		if err != nil {
			return err
		}
		c.endRun()
		for next++; next < len(sweep); next++ { // the runs after the last row
			if err := c.beginRun(sweep[next]); err != nil {
				return err
			}
			c.endRun()
		}
	}
	return c.emitUntil(windowEnd)
}

// presence is what a run showed of one event: its group, and whether the
// content filter keeps it.
type presence struct {
	group string
	keep  bool
}

// counter accumulates one feed's series, interval by interval.
type counter struct {
	feed        string
	q           Series
	grid        Grid
	f           Filter
	fn          func(*IntervalCount) error
	windowFirst int64 // the first run of the series; those before only tell what was open

	run       RunStart
	inWindow  bool
	prev, cur map[string]presence // the events of the previous run and of this one

	// The interval being counted.
	start  time.Time
	runs   int
	open   map[string]map[string]bool // group → ids
	new    map[string]int
	closed map[string]int
	out    IntervalCount
}

func (c *counter) reset() {
	c.runs = 0
	c.open, c.new, c.closed = map[string]map[string]bool{}, map[string]int{}, map[string]int{}
}

// beginRun starts a run: the intervals before its own are complete.
func (c *counter) beginRun(r RunStart) error {
	c.run = r
	c.inWindow = r.ID >= c.windowFirst
	if !c.inWindow {
		return nil
	}
	// A run never goes back to an interval already written; with a clock
	// set back between runs it counts in the current one.
	if k := c.grid.Floor(r.Started); k.After(c.start) {
		if err := c.emitUntil(k); err != nil {
			return err
		}
	}
	c.runs++
	return nil
}

func (c *counter) group(e *traffic.Event) string {
	switch c.q.By {
	case ByEventType:
		return e.EventType
	case BySeverity:
		return e.Severity
	case ByCategory:
		return e.Category
	}
	return ""
}

// row takes one event of the current run.
func (c *counter) row(r *SnapshotRow) {
	p := presence{group: c.group(&r.Event), keep: c.f.matches(&r.Event)}
	c.cur[r.ID] = p
	if !c.inWindow || !p.keep {
		return
	}
	if c.open[p.group] == nil {
		c.open[p.group] = map[string]bool{}
	}
	c.open[p.group][r.ID] = true
	if r.Version == 1 && r.FirstRunID == r.RunID {
		c.new[p.group]++
	}
}

// endRun ends the current run: the events of the previous run it did not
// list closed at it.
func (c *counter) endRun() {
	if c.inWindow {
		for id, p := range c.prev {
			if _, still := c.cur[id]; !still && p.keep {
				c.closed[p.group]++
			}
		}
	}
	c.prev, c.cur = c.cur, c.prev
	clear(c.cur)
}

// emitUntil writes the intervals from the current one up to (not
// including) the one starting at end.
func (c *counter) emitUntil(end time.Time) error {
	for ; c.start.Before(end); c.start = c.grid.Next(c.start) {
		if err := c.emit(); err != nil {
			return err
		}
		c.reset()
	}
	return nil
}

// emit writes the current interval's rows.
func (c *counter) emit() error {
	row := &c.out
	*row = IntervalCount{Start: c.start.UTC(), End: c.grid.Next(c.start).UTC(), Feed: c.feed, Runs: c.runs}
	groups := map[string]bool{}
	for g := range c.open {
		groups[g] = true
	}
	for g := range c.new {
		groups[g] = true
	}
	for g := range c.closed {
		groups[g] = true
	}
	if c.runs == 0 || !c.q.Grouped() || len(groups) == 0 {
		if !c.q.Grouped() {
			row.Open, row.New, row.Closed = len(c.open[""]), c.new[""], c.closed[""]
		}
		return c.fn(row)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		row.Group = &g
		row.Open, row.New, row.Closed = len(c.open[g]), c.new[g], c.closed[g]
		if err := c.fn(row); err != nil {
			return err
		}
	}
	return nil
}
