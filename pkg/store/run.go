package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// ErrLocked is returned when another run of the same feed holds its lock.
var ErrLocked = errors.New("another trafficctl fetch of this feed is running on this database")

// RunTx is the write transaction of one run of a feed. It holds the run lock
// from BeginRun until Finish commits or Rollback. A snapshot is written
// page by page as it arrives (Start, Write for each page, Finish): the
// database works while the next page is fetched, and no page stays in
// memory once written. Nothing is visible to others before Finish
// commits, and a run that fails is rolled back whole.
//
// This file reads in the order a run goes: BeginRun, Start, Write (plan
// the page, then apply it), Finish. What each step decides is in plan.go;
// the SQL that writes events and spells is in write.go.
type RunTx struct {
	s    *Store
	feed string
	lock func()    // releases the feed's lock (SQLite)
	conn *sql.Conn // the connection the transaction runs on (for COPY)
	tx   *gorm.DB

	ready   chan struct{} // closed once the open set is loaded (or failed: openErr)
	open    map[string]known
	openErr error
	plan    *planner // made once the open set is loaded

	// The spells planned but not yet written (with the ids whose open spell
	// they end): flush writes them.
	ending  []spellKey
	waiting []spell

	rec  FetchRun  // the ledger row, once Start wrote it
	prev RunStart  // the previous successful run: spells that end, end there
	at   time.Time // this run's started_at
}

// BeginRun takes the feed's run lock and starts the run's transaction. On
// PostgreSQL the lock is a transaction-level advisory try-lock, and runs of
// different feeds go on side by side. On SQLite it is a lock file beside
// the database; SQLite has one writer, so the transaction then waits for
// the write lock for as long as ctx allows: a run of another feed ends
// soon. If another run of the same feed holds its lock, BeginRun returns
// ErrLocked at once.
func (s *Store) BeginRun(ctx context.Context, feed string) (*RunTx, error) {
	f := &RunTx{s: s, feed: feed}
	if s.dialect == SQLite {
		unlock, err := lockFeed(s.path, feed)
		if err != nil {
			return nil, err
		}
		f.lock = unlock
	}
	// The transaction runs on a connection of its own, which the PostgreSQL
	// bulk load reaches through (*sql.Conn).Raw (pgx's documented way).
	sqlDB, err := s.db.DB()
	if err != nil {
		f.Rollback()
		return nil, err
	}
	if f.conn, err = sqlDB.Conn(ctx); err != nil {
		f.Rollback()
		return nil, s.dbError("connect", err)
	}
	if err := f.begin(ctx); err != nil {
		f.Rollback()
		return nil, err
	}
	if s.dialect == Postgres {
		var got bool
		if err := f.tx.Raw("SELECT pg_try_advisory_xact_lock(?, ?)", fetchLockKey, feedLockKey(feed)).Scan(&got).Error; err != nil {
			f.Rollback()
			return nil, s.dbError("take the run lock", err)
		}
		if !got {
			f.Rollback()
			return nil, ErrLocked
		}
	}
	// The previous successful run: spells that end, end there; and it saw
	// about as many events as are open now.
	prev, size, err := lastSucceeded(f.tx, feed)
	if err != nil {
		f.Rollback()
		return nil, s.dbError("read the ledger", err)
	}
	f.prev = prev
	// Unchanged, Write and Finish wait for the open set. On SQLite it is read
	// on another connection while the run starts and its first pages are
	// fetched (the lock is held, so nothing else can change it); the figure
	// is in docs/benchmarks.md ("What each fast path buys"). On PostgreSQL
	// a second connection costs a new server process, more than the
	// overlap saves: it is read in the transaction, before anything else.
	f.ready = make(chan struct{})
	load := func(db *gorm.DB) {
		defer close(f.ready)
		f.open, f.openErr = s.loadOpen(db, feed, size)
	}
	if s.dialect != Postgres {
		go load(s.db.WithContext(ctx))
		return f, nil
	}
	if load(f.tx); f.openErr != nil {
		f.Rollback()
		return nil, f.openErr
	}
	return f, nil
}

// loaded waits for the open set, says whether it could be read, and
// makes the run's planner from it.
func (f *RunTx) loaded() error {
	<-f.ready
	if f.openErr == nil && f.plan == nil {
		f.plan = newPlanner(f.open)
	}
	return f.openErr
}

// Unchanged reports whether id is an open event stored with exactly this
// content hash, so that a caller need not keep the event's content: only
// its id and hash (traffic.Event.HashOnly). It may be called from other
// goroutines while Write runs (it reads only the open set, which nothing
// changes once loaded), and waits for the open set to be loaded.
func (f *RunTx) Unchanged(id, contentHash string) bool {
	<-f.ready
	if f.openErr != nil {
		return false
	}
	k, ok := f.open[id]
	return ok && k.hash == contentHash
}

// begin starts the run's transaction on f.conn. On SQLite that takes the
// write lock (_txlock=immediate), which a run of another feed may hold: it
// is tried again, in short waits so that a signal ends the wait at once,
// for as long as ctx allows.
func (f *RunTx) begin(ctx context.Context) error {
	on := f.s.db.WithContext(ctx)
	on.Statement.ConnPool = f.conn
	if f.s.dialect == Postgres {
		f.tx = on.Begin()
		if err := f.tx.Error; err != nil {
			f.tx = nil
			return f.s.dbError("begin the run's transaction", err)
		}
		return nil
	}
	restore, err := shortBusyTimeout(ctx, f.conn)
	if err != nil {
		return f.s.dbError("begin the run's transaction", err)
	}
	defer restore()
	for {
		tx := on.Begin()
		if tx.Error == nil {
			f.tx = tx
			return nil
		}
		if !isBusy(tx.Error) {
			return f.s.dbError("begin the run's transaction", tx.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the database's write lock (another feed's run holds it): %w", context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's: another connection holds the lock.
func isBusy(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
}

// Rollback abandons the run: nothing of it is written. Safe after Finish.
func (f *RunTx) Rollback() {
	if f.ready != nil {
		<-f.ready // the open set's reader is done with its connection
	}
	if f.tx != nil {
		f.tx.Rollback()
		f.tx = nil
	}
	if f.conn != nil {
		f.conn.Close() // back to the pool
		f.conn = nil
	}
	if f.lock != nil {
		f.lock()
		f.lock = nil
	}
}

// Apply writes a complete snapshot and its ledger row, then commits: Start,
// one Write and Finish. On any error nothing is written and the caller
// records a failed run.
func (f *RunTx) Apply(ctx context.Context, run RunInfo, events []traffic.Event) (FetchRun, error) {
	if err := f.Start(ctx, run); err != nil {
		return FetchRun{}, err
	}
	if err := f.Write(ctx, events); err != nil {
		return FetchRun{}, err
	}
	return f.Finish(ctx, run)
}

// RunID is the id of the run's ledger row once Start wrote it, else 0.
// After a rollback it is free to record the failed run under (RunInfo.ID).
func (f *RunTx) RunID() int64 { return f.rec.ID }

// Start writes the run's ledger row (in the transaction: it is only seen if
// the run succeeds).
func (f *RunTx) Start(ctx context.Context, run RunInfo) error {
	if f.tx == nil {
		return errors.New("the run's transaction is already finished")
	}
	tx := f.tx.WithContext(ctx)
	f.at = DBTime(run.StartedAt)
	f.rec = FetchRun{Feed: f.feed, StartedAt: f.at, FinishedAt: f.at, Status: RunSucceeded, SourceURL: traffic.CleanText([]byte(run.SourceURL)), Version: run.Version}
	return f.s.dbError("record the run", tx.Create(&f.rec).Error)
}

// Write applies one page of the snapshot, in feed order: it looks up which
// of the page's ids are closed events, plans the page, and applies the
// plan. An id met again later in the snapshot (pagination that shifted
// under us) takes the later content.
func (f *RunTx) Write(ctx context.Context, events []traffic.Event) error {
	if f.tx == nil || f.rec.ID == 0 {
		return errors.New("the run is not started")
	}
	if err := f.loaded(); err != nil {
		return err
	}
	tx := f.tx.WithContext(ctx)
	// Closed events are looked up among the ids the run does not know; a
	// feed's first successful run has none to find (events are written by
	// successful runs only).
	if f.prev.ID != 0 {
		if err := f.s.addClosed(tx, f.feed, f.plan.closed, f.plan.unknown(events)); err != nil {
			return err
		}
	}
	plan, err := f.plan.page(events)
	if err != nil {
		return err
	}
	if len(plan.undo) > 0 {
		if err := f.flush(tx); err != nil { // what is undone must be written first
			return err
		}
		for _, u := range plan.undo {
			if err := f.s.undoSpell(tx, f.feed, u); err != nil {
				return err
			}
		}
	}
	f.ending = append(f.ending, plan.ending...)
	for _, sp := range plan.begin {
		e := *sp.event // the caller may reuse its page
		sp.event = &e
		f.waiting = append(f.waiting, sp)
	}
	if len(f.waiting) < flushAt {
		return nil
	}
	return f.flush(tx)
}

// flushAt is how many spells may wait to be written. A page of a first
// fetch is written as it comes; a few changed events a page wait, and are
// written in a couple of statements for many pages instead of a couple a
// page.
const flushAt = 500

// flush ends the spells of the changed events waiting to be written and
// writes their new spells, with their events' rows.
func (f *RunTx) flush(tx *gorm.DB) error {
	if err := f.s.endSpells(tx, f.feed, f.prev, f.ending); err != nil {
		return err
	}
	if err := f.s.beginSpells(tx, f.conn, f.feed, f.rec.ID, f.at, f.waiting); err != nil {
		return err
	}
	f.ending, f.waiting = f.ending[:0], f.waiting[:0]
	return nil
}

// Finish closes the open events the snapshot did not list (their spells
// end at the previous run), completes the ledger row with the run's counts
// and commits.
func (f *RunTx) Finish(ctx context.Context, run RunInfo) (FetchRun, error) {
	if f.tx == nil || f.rec.ID == 0 {
		return FetchRun{}, errors.New("the run is not started")
	}
	if err := f.loaded(); err != nil {
		return FetchRun{}, err
	}
	tx := f.tx.WithContext(ctx)
	defer f.Rollback()
	if err := f.flush(tx); err != nil {
		return FetchRun{}, err
	}
	gone := f.plan.closing()
	counts := f.plan.counts(gone)
	if err := f.s.endSpells(tx, f.feed, f.prev, gone); err != nil {
		return FetchRun{}, err
	}
	if err := f.s.closeEvents(tx, f.feed, f.at, f.prev, ids(gone)); err != nil {
		return FetchRun{}, err
	}
	rec := f.rec
	rec.Pages, rec.EventsReceived, rec.EventsSkipped = run.Pages, run.Received, run.Skipped
	rec.EventsNew, rec.EventsChanged, rec.EventsUnchanged, rec.EventsClosed = counts.New, counts.Changed, counts.Unchanged, counts.Closed
	rec.FinishedAt = DBTime(run.FinishedAt)
	if rec.FinishedAt.Before(rec.StartedAt) {
		rec.FinishedAt = rec.StartedAt // an injected clock may run behind the real one
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

// feedLockKey is the second key of a feed's PostgreSQL advisory lock (the
// first is fetchLockKey). Two names with the same 32-bit hash would share a
// lock: one would wait for the other's next run, nothing worse.
func feedLockKey(feed string) int32 {
	h := fnv.New32a()
	h.Write([]byte(feed))
	return int32(h.Sum32())
}
