package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

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
type RunTx struct {
	s     *Store
	feed  string
	lock  func()    // releases the feed's lock (SQLite)
	conn  *sql.Conn // the connection the transaction runs on (for COPY)
	tx    *gorm.DB
	open  map[string]known // the open events; read-only once loaded
	ready chan struct{}    // closed once open is loaded (or failed: openErr)
	// openErr is why the open set could not be read.
	openErr error
	closed  map[string]known // the closed events met so far

	rec  FetchRun  // the ledger row, once Start wrote it
	prev RunStart  // the previous successful run: spells that end, end there
	at   time.Time // this run's started_at
	// seen is what the run did with each id it met; Finish starts the new
	// spells (of those new or changed) in one statement, from their rows in
	// events.
	seen map[string]outcome

	// Changed events (usually a few per page) wait here to be written
	// together, in a couple of statements instead of a couple per page; new
	// events are written with their page. flush writes them.
	changed  []traffic.Event
	versions []int
	ending   []string // the ids whose open spell ends: changed or gone
}

// flushAt is how many changed events may wait for flush.
const flushAt = 500

// outcome is what this run did with an id it met.
type outcome struct {
	hash   string
	change change
}

// BeginRun takes the feed's run lock and starts the run's transaction. On
// PostgreSQL the lock is a transaction-level advisory try-lock, and runs of
// different feeds go on side by side. On SQLite it is a lock file beside
// the database; SQLite has one writer, so the transaction then waits for
// the write lock for as long as ctx allows: a run of another feed ends
// soon. If another run of the same feed holds its lock, BeginRun returns
// ErrLocked at once.
func (s *Store) BeginRun(ctx context.Context, feed string) (*RunTx, error) {
	f := &RunTx{s: s, feed: feed, closed: map[string]known{}}
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
	// fetched (the lock is held, so nothing else can change it, and a run
	// that is locked out has sent no request to the feed): issue 13
	// measured a 10,000-event unchanged fetch at 218 ms with the overlap
	// and 264 ms without (medians of 5 alternating runs), 17 %. On
	// PostgreSQL a second connection costs a new server process, more than
	// the overlap saves: it is read in the transaction, before anything
	// else.
	f.ready = make(chan struct{})
	load := func(db *gorm.DB) {
		defer close(f.ready)
		if f.open, f.openErr = s.loadOpen(db, feed, size); f.openErr == nil {
			f.seen = make(map[string]outcome, len(f.open)) // usually the same ids again
		}
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

// loaded waits for the open set and says whether it could be read.
func (f *RunTx) loaded() error {
	<-f.ready
	return f.openErr
}

// Unchanged reports whether id is an open event stored with exactly this
// content hash, so that a caller need not keep the event's content: only
// its id and hash. It may be called from other goroutines while Write runs
// (it reads only the open set, which nothing changes once loaded), and
// waits for the open set to be loaded.
func (f *RunTx) Unchanged(id, contentHash string) bool {
	if f.loaded() != nil {
		return false
	}
	k, ok := f.open[id]
	return ok && k.hash == contentHash
}

// lookup is what was stored of id when the run began.
func (f *RunTx) lookup(id string) (known, bool) {
	if k, ok := f.open[id]; ok {
		return k, true
	}
	k, ok := f.closed[id]
	return k, ok
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
	if _, err := f.conn.ExecContext(ctx, "PRAGMA busy_timeout = 100"); err != nil {
		return f.s.dbError("begin the run's transaction", err)
	}
	defer f.conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = 5000")
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

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
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
	f.at = dbTime(run.StartedAt)
	f.rec = FetchRun{Feed: f.feed, StartedAt: f.at, FinishedAt: f.at, Status: RunSucceeded, SourceURL: traffic.CleanText([]byte(run.SourceURL)), Version: run.Version}
	return f.s.dbError("record the run", tx.Create(&f.rec).Error)
}

// Write applies one page of the snapshot, in feed order. An id met again
// later in the snapshot (pagination that shifted under us) takes the later
// content: what was written for it is redone.
func (f *RunTx) Write(ctx context.Context, events []traffic.Event) error {
	if f.tx == nil || f.rec.ID == 0 {
		return errors.New("the run is not started")
	}
	if err := f.loaded(); err != nil {
		return err
	}
	tx := f.tx.WithContext(ctx)
	// Look up ids not met before in this run (one met before may have been
	// written by it: that is no closed event).
	var unmet []string
	for _, e := range events {
		if _, met := f.seen[e.ID]; !met {
			unmet = append(unmet, e.ID)
		}
	}
	if err := f.s.addClosed(tx, f.feed, f.open, f.closed, unmet); err != nil {
		return err
	}
	var fresh, again []traffic.Event
	var ones []int
	for _, e := range events {
		if _, dup := f.seen[e.ID]; dup {
			again = append(again, e) // after this page's writes, in order
			continue
		}
		k, stored := f.lookup(e.ID)
		ch := classify(k, stored, e.ContentHash)
		switch ch {
		case isNew:
			fresh, ones = append(fresh, e), append(ones, 1)
		case isChanged:
			f.changed, f.versions = append(f.changed, e), append(f.versions, k.version+1)
			if k.open {
				f.ending = append(f.ending, e.ID)
			}
		}
		f.seen[e.ID] = outcome{hash: e.ContentHash, change: ch}
	}
	if err := f.s.writeEvents(tx, f.conn, f.feed, f.at, fresh, ones); err != nil {
		return err
	}
	if len(f.changed) >= flushAt || len(again) > 0 {
		if err := f.flush(tx); err != nil {
			return err
		}
	}
	for _, e := range again {
		if err := f.redo(tx, e); err != nil {
			return err
		}
	}
	return nil
}

// flush ends the spells of the changed events waiting to be written and
// writes them.
func (f *RunTx) flush(tx *gorm.DB) error {
	if err := f.endSpells(tx, f.ending); err != nil {
		return err
	}
	if err := f.s.writeEvents(tx, f.conn, f.feed, f.at, f.changed, f.versions); err != nil {
		return err
	}
	f.changed, f.versions, f.ending = f.changed[:0], f.versions[:0], f.ending[:0]
	return nil
}

// redo makes e, met again with other content, the event's content in this
// run. Rare (a feed whose pages shifted while being read), so done one by one.
func (f *RunTx) redo(tx *gorm.DB, e traffic.Event) error {
	prev := f.seen[e.ID]
	if prev.hash == e.ContentHash {
		return nil
	}
	if prev.change == isNew { // drop the row written for the earlier copy
		if err := tx.Exec("DELETE FROM events WHERE feed = ? AND id = ?", f.feed, e.ID).Error; err != nil {
			return f.s.dbError("redo a repeated event", err)
		}
	}
	k, stored := f.lookup(e.ID)
	now := outcome{hash: e.ContentHash, change: classify(k, stored, e.ContentHash)}
	switch {
	case now.change == isUnchanged:
		// Back to the stored content (the caller kept only its id and
		// hash): reopen the spell and restore the event from it.
		err := tx.Exec("UPDATE event_versions SET last_run_id = NULL, valid_to = NULL WHERE feed = ? AND event_id = ? AND version = ?", f.feed, e.ID, k.version).Error
		if err == nil {
			err = tx.Exec("UPDATE events SET ("+fieldColumns+", current_version, content_hash, raw) = (SELECT "+fieldColumns+
				", version, content_hash, raw FROM event_versions WHERE feed = ? AND event_id = ? AND version = ?) WHERE feed = ? AND id = ?",
				f.feed, e.ID, k.version, f.feed, e.ID).Error
		}
		if err != nil {
			return f.s.dbError("redo a repeated event", err)
		}
	default:
		if prev.change == isUnchanged && k.open {
			if err := f.endSpells(tx, []string{e.ID}); err != nil {
				return err
			}
		}
		if err := f.s.writeEvents(tx, f.conn, f.feed, f.at, []traffic.Event{e}, []int{k.version + 1}); err != nil {
			return err
		}
	}
	f.seen[e.ID] = now
	return nil
}

// endSpells ends the open spells of ids at the previous successful run.
func (f *RunTx) endSpells(tx *gorm.DB, ids []string) error {
	err := inBatches(ids, f.s.maxParams()-4, func(ids []string) error {
		return tx.Table(versionsTable).Where("feed = ? AND last_run_id IS NULL AND first_run_id < ? AND event_id IN ?", f.feed, f.rec.ID, ids).
			Updates(map[string]any{"last_run_id": f.prev.ID, "valid_to": f.prev.Started}).Error
	})
	return f.s.dbError("end spells", err)
}

// Finish closes the open events the snapshot did not list, completes the
// ledger row with run's counts and commits.
func (f *RunTx) Finish(ctx context.Context, run RunInfo) (FetchRun, error) {
	if f.tx == nil || f.rec.ID == 0 {
		return FetchRun{}, errors.New("the run is not started")
	}
	if err := f.loaded(); err != nil {
		return FetchRun{}, err
	}
	tx := f.tx.WithContext(ctx)
	defer f.Rollback()
	var counts RunCounts
	var gone, spells []string
	for id := range f.open {
		if _, met := f.seen[id]; !met {
			gone = append(gone, id)
		}
	}
	for id, sn := range f.seen {
		counts.count(sn.change)
		if sn.change != isUnchanged {
			spells = append(spells, id)
		}
	}
	counts.Closed = len(gone)
	if err := f.flush(tx); err != nil {
		return FetchRun{}, err
	}
	if err := f.s.startSpells(tx, f.feed, f.rec.ID, f.at, spells); err != nil {
		return FetchRun{}, err
	}
	if err := f.endSpells(tx, gone); err != nil {
		return FetchRun{}, err
	}
	err := inBatches(gone, f.s.maxParams()-3, func(ids []string) error {
		return tx.Table(eventsTable).Where("feed = ? AND id IN ?", f.feed, ids).
			Updates(map[string]any{"closed_at": f.at, "last_seen_at": f.prev.Started}).Error
	})
	if err != nil {
		return FetchRun{}, f.s.dbError("close absent events", err)
	}
	rec := f.rec
	rec.Pages, rec.EventsReceived, rec.EventsSkipped = run.Pages, run.Received, run.Skipped
	rec.EventsNew, rec.EventsChanged, rec.EventsUnchanged, rec.EventsClosed = counts.New, counts.Changed, counts.Unchanged, counts.Closed
	rec.FinishedAt = dbTime(run.FinishedAt)
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
