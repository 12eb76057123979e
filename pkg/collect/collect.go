// Package collect is the fetch use case: for one feed, take its run lock,
// read one complete snapshot, apply it in one transaction with its ledger
// row, and report what changed. A run that fails anywhere writes nothing of its
// snapshot; its failure is recorded in the ledger.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Params are the inputs of one run.
type Params struct {
	Feed      traffic.Feed // the feed's decoder (open511 or wzdx)
	FeedName  string       // the name its rows are stored under
	Store     *store.Store // may be nil for a dry run: no database yet
	Now       func() time.Time
	Version   string        // trafficctl's, for the ledger
	SourceURL string        // redacted source URL, for the ledger
	Deadline  time.Duration // the whole run, all pages and retries
	// Started is when the run began; zero is now. A snapshot read ahead
	// (RunAll on SQLite) began before Run.
	Started time.Time
	DryRun  bool // fetch and compare, write nothing
	Logger  *slog.Logger
	Secrets *redact.Secrets // masked in the ledger's error text
	// Locked, if set, is called once the run lock is held; its error
	// ends the run with nothing recorded (an import's order check).
	Locked func(context.Context) error
}

// Summary is what a run did.
type Summary struct {
	Feed     string
	RunID    int64 // 0 for a dry run, or when nothing could be recorded
	Status   string
	DryRun   bool
	Pages    int
	Received int
	Skipped  int
	store.RunCounts
	Duration time.Duration
}

// Run performs one fetch. The returned Summary is meaningful also when err
// is not nil (a failed run is recorded and counted), except for
// store.ErrLocked, where nothing was done.
func Run(ctx context.Context, p Params) (Summary, error) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := p.Started
	if start.IsZero() {
		start = p.Now()
	}
	sum := Summary{Feed: p.FeedName, DryRun: p.DryRun, Status: store.RunFailed}
	finish := func(s Summary, err error) (Summary, error) {
		s.Duration = p.Now().Sub(start)
		return s, err
	}
	// The deadline covers migrating and the wait for the run lock too: on
	// SQLite a run of another feed may hold the database's one writer, on
	// PostgreSQL another trafficctl may be migrating.
	runCtx, cancel := context.WithTimeoutCause(ctx, p.Deadline, deadlineCause(p.Deadline))
	defer cancel()
	if p.DryRun {
		return dryRun(runCtx, p, sum, finish, log)
	}
	if _, err := p.Store.Migrate(runCtx); err != nil {
		return finish(sum, ended(runCtx, err))
	}
	// Failed runs that could not write their ledger row (see below) are
	// written first, so that the ledger is in order of start.
	if _, err := p.Store.RecordDeferredRuns(runCtx, p.FeedName); err != nil {
		log.Error("could not record an earlier failed run", "feed", p.FeedName, "error", err.Error())
	}
	fetch, err := p.Store.BeginRun(runCtx, p.FeedName)
	if err != nil {
		err = ended(runCtx, err)
		if ctx.Err() == nil && runCtx.Err() != nil && !errors.Is(err, store.ErrLocked) {
			// The deadline passed waiting for SQLite's write lock, held
			// by another feed's run: the row waits for it too.
			sum.RunID = deferFailure(ctx, p, start, err, log)
		}
		return finish(sum, err)
	}
	log.Debug("run lock taken", "feed", p.FeedName, "after", p.Now().Sub(start).Round(time.Millisecond).String())
	defer fetch.Rollback()
	if p.Locked != nil {
		if err := p.Locked(runCtx); err != nil {
			return finish(sum, err)
		}
	}

	info := store.RunInfo{Feed: p.FeedName, StartedAt: start, SourceURL: p.SourceURL, Version: p.Version}
	// Each page is written as it arrives, in the run's transaction: the
	// database works while the next page is fetched. Events stored
	// unchanged come as their id and hash only (traffic.Event.HashOnly):
	// Write needs no more (docs/benchmarks.md, "What each fast path buys").
	var snap traffic.Snapshot
	err = fetch.Start(runCtx, info)
	if err == nil {
		snap, err = p.Feed.Stream(runCtx, fetch.Unchanged, func(events []traffic.Event) error { return fetch.Write(runCtx, events) })
	}
	// What was read is recorded, also when the run fails: it shows which
	// page failed.
	info.Pages, info.Received, info.Skipped = snap.Pages, snap.Received, snap.Skipped
	sum.Pages, sum.Received, sum.Skipped = snap.Pages, snap.Received, snap.Skipped
	if err == nil {
		err = noneRead(snap)
	}
	if err == nil {
		log.Debug("snapshot read", "feed", p.FeedName, "pages", snap.Pages, "events", snap.Received, "after", p.Now().Sub(start).Round(time.Millisecond).String())
		if snap.Received == snap.Skipped {
			log.Warn("the snapshot is empty: every open event will be closed", "feed", p.FeedName, "pages", snap.Pages)
		}
		var rec store.FetchRun
		info.FinishedAt = p.Now()
		rec, err = fetch.Finish(runCtx, info)
		if err == nil {
			sum.RunID, sum.Status = rec.ID, rec.Status
			sum.RunCounts = store.RunCounts{New: rec.EventsNew, Changed: rec.EventsChanged, Unchanged: rec.EventsUnchanged, Closed: rec.EventsClosed}
			return finish(sum, nil)
		}
	}

	fetch.Rollback()
	err = ended(runCtx, err)
	// Record the failure even when the run was cancelled by a signal: the
	// ledger row is short, and it is what tells a user about the hole. It
	// takes the id the rolled-back run had (a PostgreSQL sequence does not
	// give it back; on SQLite it is simply the next one).
	info.ID = fetch.RunID()
	recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRecord()
	rec, recErr := p.Store.RecordFailedRun(recordCtx, info, p.Secrets.Text(err.Error()), p.Now())
	if recErr != nil {
		log.Error("could not record the failed run", "feed", p.FeedName, "error", recErr.Error())
	} else {
		sum.RunID = rec.ID
	}
	return finish(sum, err)
}

// deferFailure keeps the ledger row of a run that failed waiting for the
// write lock, and writes it if the lock frees within 10 s; otherwise the
// feed's next run does. It returns the row's id, or 0 if not written yet.
func deferFailure(ctx context.Context, p Params, start time.Time, err error, log *slog.Logger) int64 {
	info := store.RunInfo{Feed: p.FeedName, StartedAt: start, SourceURL: p.SourceURL, Version: p.Version}
	if derr := p.Store.DeferFailedRun(ctx, info, p.Secrets.Text(err.Error()), p.Now()); derr != nil {
		log.Error("could not record the failed run", "feed", p.FeedName, "error", derr.Error())
		return 0
	}
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	recs, rerr := p.Store.RecordDeferredRuns(recordCtx, p.FeedName)
	if rerr != nil {
		log.Warn("the failed run is recorded by the feed's next run: the database's write lock is still held", "feed", p.FeedName)
	}
	for _, r := range recs {
		if r.StartedAt.Equal(store.DBTime(start)) {
			return r.ID
		}
	}
	return 0
}

// dryRun fetches the whole snapshot and compares it with the database,
// writing nothing.
func dryRun(ctx context.Context, p Params, sum Summary, finish func(Summary, error) (Summary, error), log *slog.Logger) (Summary, error) {
	events, snap, err := traffic.ReadAll(ctx, p.Feed)
	sum.Pages, sum.Received, sum.Skipped = snap.Pages, snap.Received, snap.Skipped
	if err == nil {
		err = noneRead(snap)
	}
	if err != nil {
		return finish(sum, err)
	}
	if len(events) == 0 {
		log.Warn("the snapshot is empty: every open event would be closed", "feed", p.FeedName, "pages", snap.Pages)
	}
	if p.Store == nil { // no database yet: everything would be new
		sum.RunCounts, sum.Status = store.RunCounts{New: len(events)}, "dry-run"
		return finish(sum, nil)
	}
	sum.RunCounts, err = p.Store.Plan(ctx, p.FeedName, events)
	if err == nil {
		sum.Status = "dry-run"
	}
	return finish(sum, err)
}

// deadlineCause is why a run that outlived its deadline failed.
func deadlineCause(d time.Duration) error {
	return fmt.Errorf("the run did not finish within source.deadline (%s)", d)
}

// ended names what ended the run, a signal or source.deadline, in err
// when that is what did: the driver's own words ("bad connection",
// "canceling statement", pgx's "timeout: context deadline exceeded")
// would hide why. Both stay in err's chain.
func ended(runCtx context.Context, err error) error {
	if err == nil || runCtx.Err() == nil {
		return err
	}
	if cause := context.Cause(runCtx); !errors.Is(err, cause) {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return err
}

// noneRead fails a snapshot that had events and none that could be read:
// taken as it is, it would close every open event of the feed, when what
// changed is most likely the feed's format, not the roads.
func noneRead(snap traffic.Snapshot) error {
	if snap.Received > 0 && snap.Skipped == snap.Received {
		return fmt.Errorf("none of the snapshot's %d events could be read (the warnings say why): a run that reads none fails and closes no event", snap.Received)
	}
	return nil
}

// IsTemporary reports whether err means "try again later": another run holds
// the lock, or the feed rate-limited us beyond the run's deadline.
func IsTemporary(err error) bool {
	return errors.Is(err, store.ErrLocked) || errors.Is(err, source.ErrRateLimited)
}
