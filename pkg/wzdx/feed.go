// Package wzdx reads WZDx (Work Zone Data Exchange) feeds: one GeoJSON
// FeatureCollection, each feature one traffic.Event.
package wzdx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Feed reads complete snapshots from one WZDx feed URL.
type Feed struct {
	Source   *source.Client
	URL      string
	Params   map[string]string
	Location *time.Location
	Logger   *slog.Logger
}

// Stream reads the document. Not written yet.
func (f *Feed) Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func([]traffic.Event) error) (traffic.Snapshot, error) {
	return traffic.Snapshot{}, errors.New("WZDx is not supported yet")
}
