// Package collect is the fetch use case: take the run lock, fetch one
// complete snapshot, apply it in one transaction with its ledger row, and
// report what changed. A run that fails anywhere writes nothing of its
// snapshot; its failure is recorded in the ledger.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// Params are the inputs of one run.
type Params struct {
	Client    *open511.Client
	Store     *store.Store // may be nil for a dry run: no database yet
	Now       func() time.Time
	Version   string        // trafficctl's, for the ledger
	SourceURL string        // redacted source URL, for the ledger
	Deadline  time.Duration // the whole run, all pages and retries
	DryRun    bool          // fetch and compare, write nothing
	Logger    *slog.Logger
	Secrets   *redact.Secrets // masked in the ledger's error text
}

// Summary is what a run did.
type Summary struct {
	RunID    int64 // 0 for a dry run, or when nothing could be recorded
	Status   string
	DryRun   bool
	Pages    int
	Received int
	Skipped  int
	store.Counts
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
	start := p.Now()
	sum := Summary{DryRun: p.DryRun, Status: store.RunFailed}
	finish := func(s Summary, err error) (Summary, error) {
		s.Duration = p.Now().Sub(start)
		return s, err
	}

	var fetch *store.Fetch
	if !p.DryRun {
		if _, err := p.Store.Migrate(ctx); err != nil {
			return finish(sum, err)
		}
		var err error
		if fetch, err = p.Store.BeginFetch(ctx); err != nil {
			return finish(sum, err)
		}
		log.Debug("run lock taken", "after", p.Now().Sub(start).Round(time.Millisecond).String())
		defer fetch.Rollback()
		client := *p.Client
		client.Stored = fetch.Unchanged // Write needs no content for those
		p.Client = &client
	}

	runCtx, cancel := context.WithTimeoutCause(ctx, p.Deadline,
		fmt.Errorf("the run did not finish within source.deadline (%s)", p.Deadline))
	defer cancel()
	info := store.RunInfo{StartedAt: start, SourceURL: p.SourceURL, Version: p.Version}
	if p.DryRun {
		return dryRun(runCtx, p, sum, finish, log)
	}
	// Each page is written as it arrives, in the run's transaction: the
	// database works while the next pages are fetched.
	err := fetch.Start(runCtx, info)
	var snap *open511.Snapshot
	if err == nil {
		snap, err = p.Client.Stream(runCtx, func(events []open511.Event) error { return fetch.Write(runCtx, events) })
	}
	if err == nil {
		info.Pages, info.Received, info.Skipped = snap.Pages, snap.Received, snap.Skipped
		sum.Pages, sum.Received, sum.Skipped = snap.Pages, snap.Received, snap.Skipped
		log.Debug("snapshot read", "pages", snap.Pages, "events", snap.Received, "after", p.Now().Sub(start).Round(time.Millisecond).String())
		if snap.Received == snap.Skipped {
			log.Warn("the snapshot is empty: every open event will be closed", "pages", snap.Pages)
		}
		var rec store.FetchRun
		rec, err = fetch.Finish(runCtx, info)
		if err == nil {
			sum.RunID, sum.Status = rec.ID, rec.Status
			sum.Counts = store.Counts{New: rec.EventsNew, Changed: rec.EventsChanged, Unchanged: rec.EventsUnchanged, Closed: rec.EventsClosed}
			return finish(sum, nil)
		}
	}

	fetch.Rollback()
	// Record the failure even when the run was cancelled by a signal: the
	// ledger row is short, and it is what tells a user about the hole. It
	// takes the id the rolled-back run had (a PostgreSQL sequence does not
	// give it back; on SQLite it is simply the next one).
	info.ID = fetch.RunID()
	recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelRecord()
	rec, recErr := p.Store.RecordFailedRun(recordCtx, info, p.Secrets.Text(err.Error()), p.Now())
	if recErr != nil {
		log.Error("could not record the failed run", "error", recErr.Error())
	} else {
		sum.RunID = rec.ID
	}
	return finish(sum, err)
}

// dryRun fetches the whole snapshot and compares it with the database,
// writing nothing.
func dryRun(ctx context.Context, p Params, sum Summary, finish func(Summary, error) (Summary, error), log *slog.Logger) (Summary, error) {
	snap, err := p.Client.FetchSnapshot(ctx)
	if err != nil {
		return finish(sum, err)
	}
	sum.Pages, sum.Received, sum.Skipped = snap.Pages, snap.Received, snap.Skipped
	if len(snap.Events) == 0 {
		log.Warn("the snapshot is empty: every open event would be closed", "pages", snap.Pages)
	}
	if p.Store == nil { // no database yet: everything would be new
		sum.Counts, sum.Status = store.Counts{New: len(snap.Events)}, "dry-run"
		return finish(sum, nil)
	}
	sum.Counts, err = p.Store.Plan(ctx, snap.Events)
	if err == nil {
		sum.Status = "dry-run"
	}
	return finish(sum, err)
}

// IsTemporary reports whether err means "try again later": another run holds
// the lock, or the feed rate-limited us beyond the run's deadline.
func IsTemporary(err error) bool {
	return errors.Is(err, store.ErrLocked) || errors.Is(err, open511.ErrRateLimited)
}
