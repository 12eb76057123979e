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
)

// GroupBys lists the values of Series.By.
var GroupBys = []string{ByNone, ByFeed, ByEventType, BySeverity}

// DefaultEvery is a Series' interval when it has none.
const DefaultEvery = time.Hour

// Series asks for a regular time series of counts per feed.
type Series struct {
	// Every is the length of an interval, at least a second (zero:
	// DefaultEvery). Intervals are aligned to the Unix epoch in UTC: with
	// an hour, they start on the hour.
	Every time.Duration
	// By groups each interval's events: ByEventType or BySeverity (the
	// value the event had in the run it is counted at), or ByNone/ByFeed
	// (or empty: none).
	By string
}

// Grouped says whether the rows have a group value.
func (q Series) Grouped() bool { return q.By == ByEventType || q.By == BySeverity }

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
	if q.Every < time.Second {
		return fmt.Errorf("the interval must be at least 1s, not %s", q.Every)
	}
	if !slices.Contains(GroupBys, q.By) {
		return fmt.Errorf("cannot group by %q: use none, feed, event_type or severity", q.By)
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

// Counts streams a regular time series per feed, ordered by feed, interval
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
func (s *Store) Counts(ctx context.Context, f Filter, q Series, fn func(*IntervalCount) error) error {
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
		runs, err := s.seriesRuns(db, f, q, feeds)
		if err != nil {
			return err
		}
		for _, feed := range feeds {
			if err := s.feedCounts(db, feed, runs[feed], latest, f, q, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// seriesRuns are the successful runs each feed's series needs, in id
// order: with f.Since, those of the whole intervals asked for and the one
// before them (to tell what the first of them closed), read through the
// index on start times; without it, all of them.
func (s *Store) seriesRuns(db *gorm.DB, f Filter, q Series, feeds []string) (map[string][]RunStart, error) {
	window := Filter{Feeds: f.Feeds}
	if !f.Since.IsZero() {
		window.Since = intervalStart(intervalOf(f.Since, q.Every), q.Every)
	}
	if !f.Until.IsZero() {
		window.Until = intervalStart(intervalOf(f.Until.Add(-time.Nanosecond), q.Every)+1, q.Every)
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

// intervalOf is the index of the interval t is in: floor(t / every).
func intervalOf(t time.Time, every time.Duration) int64 {
	n, d := t.UnixNano(), int64(every)
	k := n / d
	if n%d < 0 {
		k--
	}
	return k
}

func intervalStart(k int64, every time.Duration) time.Time {
	return time.Unix(0, k*int64(every)).UTC()
}

// feedCounts is one feed's series. runs are its successful runs in id
// order, which is the order they started in (a feed's runs take turns).
func (s *Store) feedCounts(db *gorm.DB, feed string, runs []RunStart, latest latestRuns, f Filter, q Series, fn func(*IntervalCount) error) error {
	var from, to time.Time
	if len(runs) > 0 {
		from, to = runs[0].Started, runs[len(runs)-1].Started.Add(time.Nanosecond)
	}
	if !f.Since.IsZero() {
		from = f.Since
	}
	if !f.Until.IsZero() {
		to = f.Until
	}
	if !from.Before(to) {
		return nil
	}
	first, end := intervalOf(from, q.Every), intervalOf(to.Add(-time.Nanosecond), q.Every)+1 // [first, end)
	windowStart, windowEnd := intervalStart(first, q.Every), intervalStart(end, q.Every)
	i0 := sort.Search(len(runs), func(i int) bool { return !runs[i].Started.Before(windowStart) })
	i1 := sort.Search(len(runs), func(i int) bool { return !runs[i].Started.Before(windowEnd) })
	c := &counter{feed: feed, q: q, f: f, fn: fn, k: first, prev: map[string]presence{}, cur: map[string]presence{}}
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
	return c.emitUntil(end)
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
	f           Filter
	fn          func(*IntervalCount) error
	windowFirst int64 // the first run of the series; those before only tell what was open

	run       RunStart
	inWindow  bool
	prev, cur map[string]presence // the events of the previous run and of this one

	// The interval being counted.
	k      int64
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
	if k := intervalOf(r.Started, c.q.Every); k > c.k {
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
// including) interval end.
func (c *counter) emitUntil(end int64) error {
	for ; c.k < end; c.k++ {
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
	*row = IntervalCount{Start: intervalStart(c.k, c.q.Every), End: intervalStart(c.k+1, c.q.Every), Feed: c.feed, Runs: c.runs}
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
