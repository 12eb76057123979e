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

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BatchSize is how many events Stream hands to sink at a time: a feed has
// no pages, and a batch bounds what waits in memory for the store.
const BatchSize = 500

var parsers fastjson.ParserPool

// Feed reads complete snapshots from one WZDx feed URL.
type Feed struct {
	Source   *source.Client
	URL      string            // e.g. https://api.511.org/traffic/wzdx
	Params   map[string]string // extra query parameters
	Location *time.Location    // for times without an offset; nil is UTC
	Logger   *slog.Logger
}

// Stream fetches the feed's one document and hands its features, as
// events, to sink in feed order, BatchSize at a time. Features without an
// id are left out (counted as Skipped); an id met again is handed on again,
// and its later content counts. If stored is not nil, an event it reports
// as stored with this content is handed on as its ID and ContentHash only.
// A body that is not a WZDx FeatureCollection fails the run; a field that
// cannot be read is left empty, with a warning in the log. If sink returns
// an error, Stream stops and returns it; undoing what sink did is the
// caller's business (a transaction).
func (f *Feed) Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func(events []traffic.Event) error) (traffic.Snapshot, error) {
	var snap traffic.Snapshot
	u, err := f.requestURL()
	if err != nil {
		return snap, err
	}
	// The parser holds the document's tree while it is decoded; a pooled
	// one reuses the last run's memory for it.
	p := parsers.Get()
	defer parsers.Put(p)
	var features []*fastjson.Value
	err = f.Source.Get(ctx, u, "the WZDx document", func(body []byte) (err error) {
		features, err = readDocument(p, body)
		return err
	})
	if err != nil {
		return snap, err
	}
	snap.Pages = 1
	d := decoder{loc: f.Location}
	ids := make(map[string]bool, len(features))
	batch := make([]traffic.Event, 0, min(BatchSize, len(features)))
	for i, v := range features {
		if err := ctx.Err(); err != nil {
			return snap, context.Cause(ctx) // a signal or the run's deadline
		}
		e, warnings, err := d.decode(v, stored)
		if f.accept(&snap, ids, e, warnings, err) {
			batch = append(batch, e)
		}
		if len(batch) == BatchSize || (i == len(features)-1 && len(batch) > 0) {
			if err := sink(batch); err != nil {
				return snap, err
			}
			batch = make([]traffic.Event, 0, BatchSize)
		}
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
