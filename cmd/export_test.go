package cmd

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestExportFlagsLandInTheFilter runs the real flag parsing with the run
// function replaced, so no database is needed.
func TestExportFlagsLandInTheFilter(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		args   []string
		format export.Format
		filter store.Filter
		err    string
	}{
		{args: nil, format: export.CSV},
		{args: []string{"--jsonl", "--event-type", "INCIDENT", "--event-type", "CONSTRUCTION"}, format: export.JSONL,
			filter: store.Filter{EventTypes: []string{"INCIDENT", "CONSTRUCTION"}}},
		{args: []string{"--format", "geojson", "--severity", "Major,Minor", "--status", "ACTIVE"}, format: export.GeoJSON,
			filter: store.Filter{Severities: []string{"Major", "Minor"}, Statuses: []string{"ACTIVE"}}},
		{args: []string{"--bbox", "-122.6,37.2,-121.7,38.0"}, format: export.CSV,
			filter: store.Filter{BBox: &store.BBox{MinLon: -122.6, MinLat: 37.2, MaxLon: -121.7, MaxLat: 38.0}}},
		{args: []string{"--since", "2026-11-01", "--until", "2026-11-01"}, format: export.CSV,
			filter: store.Filter{Since: day, Until: day.AddDate(0, 0, 1)}}, // a date as --until means the end of that day
		{args: []string{"--since", "2026-11-01T08:00:00-08:00"}, format: export.CSV,
			filter: store.Filter{Since: day.Add(16 * time.Hour)}},
		{args: []string{"--bbox", "37.2,-122.6,38.0,-121.7"}, err: "--bbox: "},
		{args: []string{"--bbox", "1,2,3"}, err: "--bbox: "},
		{args: []string{"--since", "yesterday"}, err: "--since: "},
		{args: []string{"--since", "2026-11-02", "--until", "2026-11-01"}, err: "--since must be before --until"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := parseExportFlags(t, tt.args, false, tt.err)
			if got == nil {
				return
			}
			if got.Format != tt.format || !reflect.DeepEqual(got.Filter, tt.filter) {
				t.Errorf("format %s filter %+v, want %s %+v", got.Format, got.Filter, tt.format, tt.filter)
			}
		})
	}
}

// parseExportFlags runs "trafficctl export" with args (and a terminal on
// stdout if tty) up to its run function and returns the options it got;
// when wantErr is not empty, it checks that the flags were refused with a
// usage error containing it, and returns nil.
func parseExportFlags(t *testing.T, args []string, tty bool, wantErr string) *ExportOptions {
	t.Helper()
	var got *ExportOptions
	c := NewCmdExport(&Factory{IO: IOStreams{OutTTY: tty}}, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
	c.SetArgs(append([]string{}, args...)) // never nil: cobra would read the test binary's own arguments
	c.SetOut(io.Discard)
	c.SetErr(io.Discard)
	err := c.Execute()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		if _, ok := err.(usageError); !ok {
			t.Errorf("%v is not a usage error (exit status 2)", err)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}
