package collect_test

import (
	"time"

	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

// runFormat serves body as one feed of format ("open511" or "wzdx"), stored
// under that name, and runs a fetch of it ten minutes after the last.
func (h *harness) runFormat(format, body string, dryRun bool) (collect.Summary, error) {
	h.t.Helper()
	if err := h.srv.SetBodies([]byte(body)); err != nil {
		h.t.Fatal(err)
	}
	client := &source.Client{Timeout: 5 * time.Second}
	var feed traffic.Feed = &open511.Feed{URL: h.srv.URL(), Source: client}
	if format == "wzdx" {
		feed = &wzdx.Feed{URL: h.srv.URL(), Source: client}
	}
	h.clock = h.clock.Add(10 * time.Minute)
	now := h.clock
	return collect.Run(ctx, collect.Params{Feed: feed, FeedName: format, Store: h.st, Now: func() time.Time { return now },
		Version: "test", SourceURL: h.srv.URL(), Deadline: time.Minute, DryRun: dryRun})
}
