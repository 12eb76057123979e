package ledgertest

import (
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BulkRow is e as a row of the events or event_versions table of the
// default feed, with its content columns, hash and raw, plus extra
// (the table's own columns): for benchmarks that write a long history
// directly, in bulk, rather than through a fetch per run.
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
