package ledgertest

import (
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BulkRow is e as a row of the event_versions table of the default feed,
// with its content columns, hash and raw, plus extra (the spell's own
// columns): for benchmarks that write a long history directly, in bulk,
// rather than through a fetch per run.
func BulkRow(e *traffic.Event, extra map[string]any) map[string]any {
	m := map[string]any{"feed": store.DefaultFeed, "content_hash": e.ContentHash, "raw": e.Raw}
	for _, f := range traffic.Fields {
		m[f.Name] = f.Value(e)
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// EventRow is a row of the events table of the default feed: extra holds
// its identity and lifecycle; its content is its current spell's (BulkRow).
func EventRow(extra map[string]any) map[string]any {
	m := map[string]any{"feed": store.DefaultFeed}
	for k, v := range extra {
		m[k] = v
	}
	return m
}
