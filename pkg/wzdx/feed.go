// Package wzdx reads WZDx (Work Zone Data Exchange) feeds: one GeoJSON
// FeatureCollection, each feature one traffic.Event. It reads WZDx 4.0 to
// 4.2 (root feed_info) and 3.x and 511.org's 4.1 (root
// road_event_feed_info). The HTTP part is pkg/source's; this package knows
// the format only.
package wzdx

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BatchSize is how many events Stream hands to sink at a time: a feed has
// no pages, and a batch bounds what waits in memory for the store.
const BatchSize = 500

// Feed reads complete snapshots from one WZDx feed URL.
type Feed struct {
	Source   *source.Client
	URL      string            // e.g. https://api.511.org/traffic/wzdx
	Params   map[string]string // extra query parameters
	Location *time.Location    // for times without an offset; nil is UTC
	Logger   *slog.Logger
}

// Stream fetches the feed's one document and hands its features, as
// events, to sink in feed order, BatchSize at a time, from the calling
// goroutine, while the next batch is decoded. Features without an id are
// left out (counted as Skipped); an id met again is handed on again, and
// its later content counts. If stored is not nil, an event it reports as
// stored with this content is handed on as its ID and ContentHash only. A
// body that is not a WZDx FeatureCollection fails the run; a field that
// cannot be read is left empty, with a warning in the log. If sink returns
// an error, Stream stops and returns it; undoing what sink did is the
// caller's business (a transaction).
func (f *Feed) Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func(events []traffic.Event) error) (traffic.Snapshot, error) {
	var snap traffic.Snapshot
	u, err := f.requestURL()
	if err != nil {
		return snap, err
	}
	var features [][]byte
	err = f.Source.Get(ctx, u, "the WZDx document", func(body []byte) (err error) {
		features, err = readDocument(body)
		return err
	})
	if err != nil {
		return snap, err
	}
	snap.Pages = 1

	// The features are decoded on another goroutine, a batch ahead of sink,
	// so that decoding and the store's writes overlap.
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []traffic.Event, 1)
	interrupted := false // the decoder stopped before the last feature
	go func() {
		defer close(batches)
		d := decoder{p: parsers.Get(), loc: f.Location}
		defer parsers.Put(d.p)
		ids := make(map[string]bool, len(features))
		batch := make([]traffic.Event, 0, BatchSize)
		for _, obj := range features {
			if ctx.Err() != nil {
				interrupted = true
				return
			}
			e, warnings, err := d.decode(obj, stored)
			if !f.accept(&snap, ids, e, warnings, err) {
				continue
			}
			if batch = append(batch, e); len(batch) == BatchSize {
				select {
				case batches <- batch:
				case <-ctx.Done():
					interrupted = true
					return
				}
				batch = make([]traffic.Event, 0, BatchSize)
			}
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-ctx.Done():
				interrupted = true
			}
		}
	}()
	var sinkErr error
	for batch := range batches {
		if sinkErr == nil {
			if sinkErr = sink(batch); sinkErr != nil {
				cancel(sinkErr) // the decoder stops; the loop drains
			}
		}
	}
	// The decoder is done: snap and interrupted are this goroutine's again.
	if sinkErr != nil {
		return snap, sinkErr
	}
	if interrupted {
		return snap, context.Cause(parent) // a signal or the run's deadline
	}
	return snap, nil
}

func (f *Feed) requestURL() (*url.URL, error) {
	u, err := source.CheckURL(f.URL)
	if err != nil {
		return nil, fmt.Errorf("source URL %w", err)
	}
	if len(f.Params) > 0 {
		q := u.Query()
		for k, v := range f.Params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func (f *Feed) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// accept counts one feature and logs its warnings; it reports whether the
// event is to be handed on (it has an id).
func (f *Feed) accept(snap *traffic.Snapshot, ids map[string]bool, e traffic.Event, warnings []string, err error) bool {
	snap.Received++
	for _, w := range warnings {
		f.logger().Warn(w)
	}
	if err != nil {
		snap.Skipped++
		f.logger().Warn("skipping feature", "position", snap.Received, "reason", err.Error())
		return false
	}
	if ids[e.ID] {
		snap.Duplicates++
		f.logger().Warn("feature appears twice in one snapshot; keeping the last", "id", e.ID)
	}
	ids[e.ID] = true
	return true
}
