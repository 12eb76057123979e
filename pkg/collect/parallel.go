package collect

import (
	"context"
	"slices"
	"sync"

	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// RunAll performs runs, up to parallel at a time, and calls done with each
// run's Summary and error as it ends; done is never called twice at once.
// With parallel 1 (or one run) they go one after another, in order, as
// Run does them. Once ctx is done no further run starts; the runs under
// way are rolled back and recorded as failed, as Run does.
//
// Each run keeps its own lock, transaction, ledger row and summary. On
// PostgreSQL they simply go side by side. SQLite has one writer, and a run
// holds it from BeginRun until it commits, through all of its requests: a
// hung feed would keep every other feed waiting for the writer until its
// deadline. So on SQLite each run first reads its whole snapshot (the
// network work, side by side), then waits for its turn at the writer and
// writes it with Run. A run waiting for its turn is waiting for the writes
// of snapshots already read, never for a feed, and its deadline covers its
// reading: Run gets the whole deadline again for the writing.
func RunAll(ctx context.Context, runs []Params, parallel int, done func(i int, sum Summary, err error)) {
	if parallel <= 1 || len(runs) < 2 {
		for i, p := range runs {
			if ctx.Err() != nil {
				return
			}
			sum, err := Run(ctx, p)
			done(i, sum, err)
		}
		return
	}
	var mu sync.Mutex
	turn := make(chan struct{}, 1) // the SQLite writer, taken in turns
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(runs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sum, err := runBeside(ctx, runs[i], turn)
				mu.Lock()
				done(i, sum, err)
				mu.Unlock()
			}
		}()
	}
	for i := range runs {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// runBeside is one run among others: Run, or on SQLite the snapshot read
// ahead and then written in turn.
func runBeside(ctx context.Context, p Params, turn chan struct{}) (Summary, error) {
	if p.DryRun || p.Store == nil || p.Store.Dialect() != store.SQLite {
		return Run(ctx, p)
	}
	if p.Started.IsZero() {
		p.Started = p.Now()
	}
	// BeginRun would refuse a feed whose other run holds its lock only
	// after the whole snapshot was read: ask before sending a request.
	if p.Store.FeedBusy(p.FeedName) {
		return Summary{Feed: p.FeedName, Status: store.RunFailed}, store.ErrLocked
	}
	ahead := &readAhead{}
	readCtx, cancel := context.WithTimeoutCause(ctx, p.Deadline, deadlineCause(p.Deadline))
	ahead.snap, ahead.err = p.Feed.Stream(readCtx, nil, func(events []traffic.Event) error {
		ahead.pages = append(ahead.pages, slices.Clone(events))
		return nil
	})
	if ahead.err != nil {
		ahead.err = ended(readCtx, ahead.err)
	}
	cancel()

	turn <- struct{}{}
	defer func() { <-turn }()
	if ahead.err == nil && ctx.Err() != nil {
		ahead.err = context.Cause(ctx) // read, but stopped before its turn came
	}
	// A run that failed (or was stopped) while reading is still recorded,
	// as Run records it: through a transaction that is rolled back, then
	// the failed run's ledger row. That must not be cancelled too.
	if ahead.err != nil {
		ctx = context.WithoutCancel(ctx)
	}
	p.Feed = ahead
	return Run(ctx, p)
}

// readAhead is a snapshot already read, handed on again as a Feed: its
// pages, or the error that ended the reading (with what was read, for the
// ledger).
type readAhead struct {
	pages [][]traffic.Event
	snap  traffic.Snapshot
	err   error
}

// Stream hands the pages read to sink.
func (r *readAhead) Stream(ctx context.Context, _ func(id, contentHash string) bool, sink func([]traffic.Event) error) (traffic.Snapshot, error) {
	if r.err != nil {
		return r.snap, r.err
	}
	for _, page := range r.pages {
		if err := ctx.Err(); err != nil {
			return r.snap, err
		}
		if err := sink(page); err != nil {
			return r.snap, err
		}
	}
	return r.snap, nil
}
