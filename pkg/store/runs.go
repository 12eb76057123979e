package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/open511"
)

// ErrLocked is returned when another fetch holds the run lock.
var ErrLocked = errors.New("another trafficctl fetch is running on this database")

// dbTime is how times are stored: UTC, whole seconds. SQLite keeps times as
// text, and a fixed width keeps text order equal to time order.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// RunInfo describes one fetch run for the ledger.
type RunInfo struct {
	StartedAt time.Time
	SourceURL string // redacted by the caller
	Version   string
	Pages     int
	Received  int
	Skipped   int
}

// Counts is what a snapshot changed.
type Counts struct {
	New       int // ids never stored before
	Changed   int // open events whose content changed, and closed events that came back
	Unchanged int
	Closed    int // open events absent from the snapshot
}

// Fetch is the write transaction of one fetch run. It holds the run lock
// from BeginFetch until Apply commits or Rollback.
type Fetch struct {
	s    *Store
	conn *sql.Conn // the connection the transaction runs on (for COPY)
	tx   *gorm.DB
	open map[string]known // the open events when the lock was taken
}

// BeginFetch starts the run's transaction and takes the run lock: on
// PostgreSQL a transaction-level advisory try-lock, on SQLite the immediate
// write lock (waiting up to the busy timeout). If another fetch holds it,
// it returns ErrLocked.
func (s *Store) BeginFetch(ctx context.Context) (*Fetch, error) {
	// The transaction runs on a connection of its own, which the PostgreSQL
	// bulk load reaches through (*sql.Conn).Raw (pgx's documented way).
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, s.dbError("connect", err)
	}
	on := s.db.WithContext(ctx)
	on.Statement.ConnPool = conn
	f := &Fetch{s: s, conn: conn, tx: on.Begin()}
	if err := f.tx.Error; err != nil {
		f.tx = nil
		f.Rollback()
		if isBusy(err) {
			return nil, ErrLocked
		}
		return nil, s.dbError("begin the run's transaction", err)
	}
	if s.dialect == Postgres {
		var got bool
		if err := f.tx.Raw("SELECT pg_try_advisory_xact_lock(?)", fetchLockKey).Scan(&got).Error; err != nil {
			f.Rollback()
			return nil, s.dbError("take the run lock", err)
		}
		if !got {
			f.Rollback()
			return nil, ErrLocked
		}
	}
	if f.open, err = s.loadOpen(f.tx); err != nil {
		f.Rollback()
		return nil, err
	}
	return f, nil
}

// Unchanged reports whether id is an open event stored with exactly this
// content hash, so that a caller need not keep the event's content for
// Apply: only its id and hash.
func (f *Fetch) Unchanged(id, contentHash string) bool {
	k, ok := f.open[id]
	return ok && k.hash == contentHash
}

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

// Rollback abandons the run: nothing of it is written. Safe after Apply.
func (f *Fetch) Rollback() {
	if f.tx != nil {
		f.tx.Rollback()
		f.tx = nil
	}
	if f.conn != nil {
		f.conn.Close() // back to the pool
		f.conn = nil
	}
}

// Apply writes a complete snapshot and its ledger row, then commits. On any
// error nothing is written and the caller records a failed run.
func (f *Fetch) Apply(ctx context.Context, run RunInfo, events []open511.Event) (FetchRun, error) {
	if f.tx == nil {
		return FetchRun{}, errors.New("the run's transaction is already finished")
	}
	tx := f.tx.WithContext(ctx)
	defer f.Rollback()
	started := dbTime(run.StartedAt)
	prev, err := lastSucceeded(tx)
	if err != nil {
		return FetchRun{}, f.s.dbError("read the ledger", err)
	}
	rec := FetchRun{
		StartedAt: started, FinishedAt: started, Status: RunSucceeded, SourceURL: run.SourceURL,
		Pages: run.Pages, EventsReceived: run.Received, EventsSkipped: run.Skipped, Version: run.Version,
	}
	if err := tx.Create(&rec).Error; err != nil {
		return FetchRun{}, f.s.dbError("record the run", err)
	}
	counts, err := f.s.applySnapshot(tx, f.conn, f.open, rec.ID, prev, started, events)
	if err != nil {
		return FetchRun{}, err
	}
	rec.EventsNew, rec.EventsChanged, rec.EventsUnchanged, rec.EventsClosed = counts.New, counts.Changed, counts.Unchanged, counts.Closed
	rec.FinishedAt = dbTime(time.Now())
	if rec.FinishedAt.Before(started) {
		rec.FinishedAt = started // an injected clock may run behind the real one
	}
	if err := tx.Save(&rec).Error; err != nil {
		return FetchRun{}, f.s.dbError("record the run", err)
	}
	if err := tx.Commit().Error; err != nil {
		return FetchRun{}, f.s.dbError("commit the run", err)
	}
	f.tx = nil // the deferred Rollback only returns the connection
	return rec, nil
}

// lastSucceeded is the latest successful run, or the zero RunStart.
func lastSucceeded(db *gorm.DB) (RunStart, error) {
	var r RunStart
	rows, err := db.Model(&FetchRun{}).Select("id, started_at").Where("status = ?", RunSucceeded).Order("id DESC").Limit(1).Rows()
	if err != nil {
		return r, err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&r.ID, &r.Started); err != nil {
			return r, err
		}
		r.Started = r.Started.UTC()
	}
	return r, rows.Err()
}

// RecordFailedRun writes the ledger row of a run that failed, in its own
// short transaction (the run's own one was rolled back).
func (s *Store) RecordFailedRun(ctx context.Context, run RunInfo, reason string, finished time.Time) (FetchRun, error) {
	rec := FetchRun{
		StartedAt: dbTime(run.StartedAt), FinishedAt: dbTime(finished), Status: RunFailed,
		SourceURL: run.SourceURL, Pages: run.Pages, EventsReceived: run.Received, EventsSkipped: run.Skipped,
		Error: reason, Version: run.Version,
	}
	if rec.FinishedAt.Before(rec.StartedAt) {
		rec.FinishedAt = rec.StartedAt
	}
	if err := s.db.WithContext(ctx).Create(&rec).Error; err != nil {
		return rec, s.dbError("record the failed run", err)
	}
	return rec, nil
}

// LastRun returns the newest ledger row with the given status (any status
// if empty); ok is false when there is none.
func (s *Store) LastRun(ctx context.Context, status string) (run FetchRun, ok bool, err error) {
	q := s.db.WithContext(ctx).Order("id DESC").Limit(1)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	res := q.Find(&run)
	if res.Error != nil {
		return run, false, s.dbError("read the ledger", res.Error)
	}
	return run, res.RowsAffected == 1, nil
}
