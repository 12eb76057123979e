package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// DBTime is how times are stored: UTC, whole seconds. SQLite keeps times as
// text, and a fixed width keeps text order equal to time order.
func DBTime(t time.Time) time.Time {
	// SQLite compares times as text, in which year 10000 sorts before
	// 2026: --until 9999-12-31 (the end of that day) would match nothing.
	if t.After(maxTime) {
		return maxTime
	}
	return t.UTC().Truncate(time.Second)
}

// maxTime is the last second with a four-digit year.
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// RunInfo describes one fetch run for the ledger.
type RunInfo struct {
	// ID, if not zero, is the id a failed run's ledger row takes on
	// PostgreSQL: the one its rolled-back transaction had drawn
	// (RunTx.RunID), so that the sequence does not skip a number for every
	// failed run.
	ID        int64
	Feed      string
	StartedAt time.Time
	// FinishedAt is when Finish commits (the caller's clock); before the
	// start, or zero, it is taken as the start.
	FinishedAt time.Time
	SourceURL  string // redacted by the caller
	Version    string
	Pages      int
	Received   int
	Skipped    int
}

// RunCounts are what one run did to its feed's events: how many were new,
// changed, unchanged and closed. (IntervalCounts is the time series.)
type RunCounts struct {
	New       int // ids never stored before
	Changed   int // open events whose content changed, and closed events that came back
	Unchanged int
	Closed    int // open events absent from the snapshot
}

// LastRun is feed's latest run of any status, or the zero run.
func (s *Store) LastRun(ctx context.Context, feed string) (FetchRun, error) {
	var r FetchRun
	if err := s.db.WithContext(ctx).Where("feed = ?", feed).Order("id DESC").Limit(1).Find(&r).Error; err != nil {
		return r, s.dbError("read the ledger", err)
	}
	r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), r.FinishedAt.UTC()
	return r, nil
}

// lastSucceeded is the feed's latest successful run, or the zero RunStart,
// and how many events it saw (the open events after it).
func lastSucceeded(db *gorm.DB, feed string) (r RunStart, events int, err error) {
	rows, err := db.Model(&FetchRun{}).Select("id, started_at, events_new + events_changed + events_unchanged").
		Where("feed = ? AND status = ?", feed, RunSucceeded).Order("id DESC").Limit(1).Rows()
	if err != nil {
		return r, 0, err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&r.ID, &r.Started, &events); err != nil {
			return r, 0, err
		}
		r.Started = r.Started.UTC()
	}
	return r, events, rows.Err()
}

// RecordFailedRun writes the ledger row of a run that failed, in its own
// short transaction (the run's own one was rolled back).
func (s *Store) RecordFailedRun(ctx context.Context, run RunInfo, reason string, finished time.Time) (FetchRun, error) {
	// The reason can quote the feed (a next_url it sent, say): it is made
	// valid text, as PostgreSQL refuses invalid UTF-8 and NUL.
	rec := FetchRun{
		Feed: run.Feed, StartedAt: DBTime(run.StartedAt), FinishedAt: DBTime(finished), Status: RunFailed,
		SourceURL: traffic.CleanText([]byte(run.SourceURL)), Pages: run.Pages, EventsReceived: run.Received, EventsSkipped: run.Skipped,
		Error: traffic.CleanText([]byte(reason)), Version: run.Version,
	}
	if rec.FinishedAt.Before(rec.StartedAt) {
		rec.FinishedAt = rec.StartedAt
	}
	if s.dialect == Postgres {
		// Only on PostgreSQL: its sequence never hands the id out again,
		// while SQLite gives the next run the same id anyway, and another
		// run may already have taken it.
		rec.ID = run.ID
	}
	if err := s.db.WithContext(ctx).Create(&rec).Error; err != nil {
		return rec, s.dbError("record the failed run", err)
	}
	return rec, nil
}
