package store

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Status is what "trafficctl status" reports about a database: its schema,
// how much it holds, and how regularly it has been fed.
type Status struct {
	Display string   // the database URL with its password hidden
	Applied []string // migration ids applied, oldest first; none on a database never migrated
	Pending []string // migration ids this trafficctl would apply

	// Totals over every feed.
	Events, OpenEvents, Versions int64
	Runs, FailedRuns             int64

	// Feeds has each feed that has runs in the ledger, by name.
	Feeds []FeedStatus
}

// FeedStatus is the part of the report about one feed.
type FeedStatus struct {
	Feed                         string
	Events, OpenEvents, Versions int64
	Runs, FailedRuns             int64

	// LastSuccess is the latest successful run; nil when there is none.
	LastSuccess *FetchRun
	// Failures are the failed runs started at or after the time asked
	// for, newest first.
	Failures []FetchRun
	// SuccessfulRuns counts the successful runs the gaps were computed from.
	SuccessfulRuns int
	// MedianInterval is the median time between the starts of consecutive
	// successful runs; zero with fewer than two of them.
	MedianInterval time.Duration
	// Gaps are the intervals between consecutive successful runs longer
	// than twice MedianInterval, oldest first.
	Gaps []Gap
}

// Feed is the report of the named feed, and whether it has any runs.
func (s Status) Feed(name string) (FeedStatus, bool) {
	for _, f := range s.Feeds {
		if f.Feed == name {
			return f, true
		}
	}
	return FeedStatus{Feed: name}, false
}

// Migrated says whether the database has trafficctl's schema at all.
func (s Status) Migrated() bool { return len(s.Applied) > 0 }

// SchemaVersion is the id of the newest applied migration, or "".
func (s Status) SchemaVersion() string {
	if len(s.Applied) == 0 {
		return ""
	}
	return s.Applied[len(s.Applied)-1]
}

// Gap is a stretch with no successful run: from the start of one
// successful run to the start of the next.
type Gap struct {
	AfterRunID, BeforeRunID int64
	Start, End              time.Time
}

// Length is how long the gap lasted.
func (g Gap) Length() time.Duration { return g.End.Sub(g.Start) }

// RunStart is a successful run's id and start time.
type RunStart struct {
	ID      int64
	Feed    string
	Started time.Time
}

// minGap is the shortest interval ever reported as a gap. Runs started by
// hand or by a test in quick succession have a median of a second or none
// (the ledger keeps whole seconds), and every pause would then be a "gap";
// no scheduler runs more often than once a minute (cron's resolution).
const minGap = time.Minute

// FindGaps returns the median interval between consecutive runs (in the
// order given) and the intervals longer than twice that median (and longer
// than a minute, whatever the median). The median
// rather than the mean is the yardstick so that the gaps themselves do not
// inflate it: a schedule of every 10 minutes with one 6-hour hole still has
// a 10-minute median.
func FindGaps(runs []RunStart) (median time.Duration, gaps []Gap) {
	if len(runs) < 2 {
		return 0, nil
	}
	intervals := make([]time.Duration, len(runs)-1)
	for i := 1; i < len(runs); i++ {
		intervals[i-1] = runs[i].Started.Sub(runs[i-1].Started)
	}
	sorted := slices.Clone(intervals)
	slices.Sort(sorted)
	n := len(sorted)
	median = sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	threshold := max(2*median, minGap)
	for i, d := range intervals {
		if d > threshold {
			gaps = append(gaps, Gap{AfterRunID: runs[i].ID, BeforeRunID: runs[i+1].ID, Start: runs[i].Started, End: runs[i+1].Started})
		}
	}
	return median, gaps
}

// Status reads the report. failuresSince bounds the failed runs listed
// (trafficctl status asks for the last 24 hours). On a database never
// migrated it returns the migrations and nothing else, without error, so
// that status can say so instead of failing.
func (s *Store) Status(ctx context.Context, failuresSince time.Time) (Status, error) {
	st := Status{Display: s.display}
	m, err := s.Migrations(ctx)
	if err != nil {
		return st, err
	}
	st.Applied, st.Pending = m.Applied, m.Pending
	if !st.Migrated() {
		return st, nil
	}
	db := s.db.WithContext(ctx)
	// Row counts per feed (and so in total) in three grouped queries.
	byFeed := map[string]*FeedStatus{}
	feed := func(name string) *FeedStatus {
		if byFeed[name] == nil {
			byFeed[name] = &FeedStatus{Feed: name}
		}
		return byFeed[name]
	}
	indexed := slices.Contains(st.Applied, ledgerIndex)
	type countQuery struct {
		query string
		dest  func(f *FeedStatus, n, m int64)
	}
	counts := []countQuery{
		{"SELECT feed, COUNT(*), COUNT(*) - COUNT(closed_at) FROM events GROUP BY feed",
			func(f *FeedStatus, n, m int64) { f.Events, f.OpenEvents = n, m }},
		{"SELECT feed, COUNT(*), 0 FROM event_versions GROUP BY feed",
			func(f *FeedStatus, n, _ int64) { f.Versions = n }},
	}
	if !indexed {
		counts = append(counts, countQuery{"SELECT feed, COUNT(*), SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) FROM fetch_runs GROUP BY feed",
			func(f *FeedStatus, n, m int64) { f.Runs, f.FailedRuns = n, m }})
	}
	for _, c := range counts {
		rows, err := db.Raw(c.query).Rows()
		if err != nil {
			return st, s.dbError("count rows", err)
		}
		for rows.Next() {
			var name string
			var n, m int64
			if err := rows.Scan(&name, &n, &m); err != nil {
				rows.Close()
				return st, s.dbError("count rows", err)
			}
			c.dest(feed(name), n, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, s.dbError("count rows", err)
		}
	}
	// Through the index on started_at: the runs of the window only.
	var failures []FetchRun
	err = s.runs(db, Filter{Since: failuresSince}).Where("status = ? AND started_at >= ?", RunFailed, DBTime(failuresSince)).Order("id DESC").Find(&failures).Error
	if err != nil {
		return st, s.dbError("read failed runs", err)
	}
	for _, r := range failures {
		r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), r.FinishedAt.UTC()
		f := feed(r.Feed)
		f.Failures = append(f.Failures, r)
	}
	if indexed {
		err = s.ledgerStatus(db, feed)
	} else {
		err = s.scanLedgerStatus(db, feed)
	}
	if err != nil {
		return st, err
	}
	for _, f := range byFeed {
		st.Events += f.Events
		st.OpenEvents += f.OpenEvents
		st.Versions += f.Versions
		st.Runs += f.Runs
		st.FailedRuns += f.FailedRuns
		st.Feeds = append(st.Feeds, *f)
	}
	slices.SortFunc(st.Feeds, func(a, b FeedStatus) int { return strings.Compare(a.Feed, b.Feed) })
	return st, nil
}

// scanLedgerStatus fills in each feed's last success, median interval and
// gaps from the whole ledger: a database whose 0005_ledger_index is still
// pending (status never migrates).
func (s *Store) scanLedgerStatus(db *gorm.DB, feed func(string) *FeedStatus) error {
	runs, err := s.successfulRuns(db, Filter{})
	if err != nil {
		return err
	}
	perFeed := map[string][]RunStart{}
	for _, r := range runs {
		perFeed[r.Feed] = append(perFeed[r.Feed], r)
	}
	for name, runs := range perFeed {
		f := feed(name)
		f.SuccessfulRuns = len(runs)
		f.MedianInterval, f.Gaps = FindGaps(runs)
		if err := s.lastSuccess(db, f, runs[len(runs)-1].ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) lastSuccess(db *gorm.DB, f *FeedStatus, id int64) error {
	var last FetchRun
	if err := db.First(&last, id).Error; err != nil {
		return s.dbError("read the ledger", err)
	}
	last.StartedAt, last.FinishedAt = last.StartedAt.UTC(), last.FinishedAt.UTC()
	f.LastSuccess = &last
	return nil
}

// NotCreated reports whether rawURL names a SQLite file that does not
// exist. Opening it would create an empty database, which a read-only
// command such as status must not do (a mistyped path in a health check
// would otherwise leave stray files behind).
func NotCreated(rawURL string) bool {
	t, err := ParseURL(rawURL)
	if err != nil || t.Dialect != SQLite {
		return false
	}
	_, err = os.Stat(strings.TrimPrefix(t.Display, "sqlite:///"))
	return os.IsNotExist(err)
}

// MigrationIDs lists every migration this trafficctl knows, oldest first,
// without a database: what a database that does not exist yet would need.
func MigrationIDs() []string {
	var ids []string
	for _, m := range (&Store{}).migrations() {
		ids = append(ids, m.ID)
	}
	return ids
}
