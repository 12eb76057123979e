package store

import (
	"time"

	"gorm.io/gorm"
)

// ledgerIndex is the migration that keeps the ledger's summary (ledger_feeds,
// ledger_successes, ledger_intervals) and indexes runs by start. Reads fall
// back to the whole ledger on a database that has not applied it yet: status
// and the exports never migrate.
const ledgerIndex = "0005_ledger_index"

// indexed says whether the database has the ledger's summary. Once it
// has, it keeps it, so a yes is remembered. A failure to tell is a no:
// reading the whole ledger is slower, never wrong.
func (s *Store) indexed(db *gorm.DB) bool {
	if s.ledger.Load() {
		return true
	}
	var n int64
	if db.Table(migrationsTable).Where("id = ?", ledgerIndex).Count(&n).Error != nil || n == 0 {
		return false
	}
	s.ledger.Store(true)
	return true
}

// runs is the ledger table to select from, with SQLite told to read a
// window of start times through their index (fetch_runs_started_at): with
// ORDER BY id its planner, which keeps no statistics, prefers to scan the
// whole table in id order over sorting the few rows of the window.
func (s *Store) runs(db *gorm.DB, f Filter) *gorm.DB {
	if s.dialect == SQLite && !f.Since.IsZero() && s.indexed(db) {
		return db.Table("fetch_runs INDEXED BY fetch_runs_started_at")
	}
	return db.Model(&FetchRun{})
}

// successBefore is the feed's successful run before run id, if any.
func (s *Store) successBefore(db *gorm.DB, feed string, id int64) (RunStart, bool, error) {
	var r RunStart
	rows, err := db.Raw("SELECT id, started_at FROM fetch_runs WHERE feed = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT 1", feed, RunSucceeded, id).Rows()
	if err != nil {
		return r, false, s.dbError("read the ledger", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return r, false, s.dbError("read the ledger", rows.Err())
	}
	if err := rows.Scan(&r.ID, &r.Started); err != nil {
		return r, false, s.dbError("read the ledger", err)
	}
	r.Feed, r.Started = feed, r.Started.UTC()
	return r, true, nil
}

// ledgerStatus fills in each feed's runs, last success, median interval and
// gaps from the ledger's summary: a row per feed, its distinct intervals,
// and its gaps, whatever the number of runs.
func (s *Store) ledgerStatus(db *gorm.DB, feed func(string) *FeedStatus) error {
	type summary struct {
		Feed                             string
		Runs, FailedRuns, SuccessfulRuns int64
		LastSuccessID                    *int64
	}
	var feeds []summary
	if err := db.Table("ledger_feeds").Find(&feeds).Error; err != nil {
		return s.dbError("read the ledger", err)
	}
	for _, sum := range feeds {
		f := feed(sum.Feed)
		f.Runs, f.FailedRuns, f.SuccessfulRuns = sum.Runs, sum.FailedRuns, int(sum.SuccessfulRuns)
		if sum.LastSuccessID == nil {
			continue
		}
		if err := s.lastSuccess(db, f, *sum.LastSuccessID); err != nil {
			return err
		}
		if sum.SuccessfulRuns < 2 {
			continue
		}
		var hist []intervalCount
		if err := db.Table("ledger_intervals").Select("seconds, runs").Where("feed = ?", sum.Feed).Order("seconds").Find(&hist).Error; err != nil {
			return s.dbError("read the ledger", err)
		}
		f.MedianInterval = medianOf(hist)
		// An interval of whole seconds is longer than the threshold when
		// its seconds exceed the threshold's whole seconds.
		threshold := max(2*f.MedianInterval, minGap)
		rows, err := db.Raw(`SELECT p.run_id, p.started_at, r.run_id, r.started_at
FROM ledger_successes r JOIN ledger_successes p ON p.feed = r.feed AND p.seq = r.seq - 1
WHERE r.feed = ? AND r.seconds > ? ORDER BY r.seq`, sum.Feed, int64(threshold/time.Second)).Rows()
		if err != nil {
			return s.dbError("read the ledger's gaps", err)
		}
		for rows.Next() {
			var g Gap
			if err := rows.Scan(&g.AfterRunID, &g.Start, &g.BeforeRunID, &g.End); err != nil {
				rows.Close()
				return s.dbError("read the ledger's gaps", err)
			}
			g.Start, g.End = g.Start.UTC(), g.End.UTC()
			f.Gaps = append(f.Gaps, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.dbError("read the ledger's gaps", err)
		}
	}
	return nil
}

// intervalCount is a row of ledger_intervals: how many intervals between
// successive successful runs lasted this many seconds.
type intervalCount struct {
	Seconds int64
	Runs    int64
}

// medianOf is the median of the intervals counted in hist (ascending), as
// FindGaps takes it: the middle one, or the mean of the two middle ones.
func medianOf(hist []intervalCount) time.Duration {
	var n int64
	for _, h := range hist {
		n += h.Runs
	}
	if n == 0 {
		return 0
	}
	at := func(k int64) time.Duration { // the k-th interval in ascending order, from 0
		for _, h := range hist {
			if k < h.Runs {
				return time.Duration(h.Seconds) * time.Second
			}
			k -= h.Runs
		}
		return 0
	}
	median := at(n / 2)
	if n%2 == 0 {
		median = (at(n/2-1) + median) / 2
	}
	return median
}
