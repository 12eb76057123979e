package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestExportSeriesFlags: --every and --by land in the options for the
// counts table, and are usage errors (exit status 2) anywhere else or out
// of range; lifetimes and counts have no geometry for GeoJSON.
func TestExportSeriesFlags(t *testing.T) {
	tests := []struct {
		args   []string
		series store.Series
		err    string
	}{
		{args: []string{"--table", "counts"}, series: store.Series{Every: time.Hour, By: store.ByNone}},
		{args: []string{"--table", "counts", "--every", "15m", "--by", "event_type"}, series: store.Series{Every: 15 * time.Minute, By: store.ByEventType}},
		{args: []string{"--table", "counts", "--every", "1s", "--by", "feed", "--jsonl"}, series: store.Series{Every: time.Second, By: store.ByFeed}},
		{args: []string{"--table", "lifetimes", "--jsonl"}, series: store.Series{Every: time.Hour, By: store.ByNone}},
		{args: []string{"--table", "counts", "--every", "500ms"}, err: "at least 1s"},
		{args: []string{"--table", "counts", "--every", "0s"}, err: "at least 1s"},
		{args: []string{"--table", "counts", "--every", "-1h"}, err: "at least 1s"},
		{args: []string{"--table", "counts", "--by", "colour"}, err: `--by "colour"`},
		{args: []string{"--every", "1h"}, err: "--every and --by are for --table counts"},
		{args: []string{"--table", "snapshots", "--by", "severity"}, err: "--every and --by are for --table counts"},
		{args: []string{"--table", "lifetimes", "--every", "1h"}, err: "--every and --by are for --table counts"},
		{args: []string{"--table", "counts", "--geojson"}, err: "no geometry"},
		{args: []string{"--table", "lifetimes", "--geojson"}, err: "no geometry"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := parseExportFlags(t, tt.args, false, tt.err)
			if got == nil {
				return
			}
			if got.Series != tt.series {
				t.Errorf("series %+v, want %+v", got.Series, tt.series)
			}
		})
	}
}
