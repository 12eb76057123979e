package cmd

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestExportSeriesFlags: --every and --by land in the options for the
// counts table, and are usage errors (exit status 2) anywhere else or out
// of range; lifetimes and counts have no geometry for GeoJSON.
func TestExportSeriesFlags(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
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
		{args: []string{"--every", "1h"}, err: "--every, --by and --tz are for --table counts"},
		{args: []string{"--table", "snapshots", "--by", "severity"}, err: "--every, --by and --tz are for --table counts"},
		{args: []string{"--table", "lifetimes", "--every", "1h"}, err: "--every, --by and --tz are for --table counts"},
		{args: []string{"--table", "counts", "--geojson"}, err: "no geometry"},
		{args: []string{"--table", "counts", "--tz", "America/Los_Angeles", "--every", "24h"}, series: store.Series{Every: 24 * time.Hour, By: store.ByNone, Location: la}},
		{args: []string{"--table", "counts", "--tz", "Mars/Olympus"}, err: `--tz "Mars/Olympus" is not a time zone`},
		{args: []string{"--table", "counts", "--tz", "Local"}, err: "name the zone"},
		{args: []string{"--table", "counts", "--tz", "Europe/Paris", "--every", "7h"}, err: "must divide a day"},
		{args: []string{"--table", "counts", "--tz", "Europe/Paris", "--every", "36h"}, err: "must divide a day"},
		{args: []string{"--table", "lifetimes", "--tz", "UTC"}, err: "--every, --by and --tz are for --table counts"},
		{args: []string{"--table", "lifetimes", "--geojson"}, err: "no geometry"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := parseExportFlags(t, tt.args, false, tt.err)
			if got == nil {
				return
			}
			if got.Series.Every != tt.series.Every || got.Series.By != tt.series.By || got.Series.Location.String() != tt.series.Location.String() {
				t.Errorf("series %+v, want %+v", got.Series, tt.series)
			}
		})
	}
}

// TestExportTZDates: with --tz, --since and --until dates are local
// midnights (the end of the day for --until), in UTC otherwise.
func TestExportTZDates(t *testing.T) {
	got := parseExportFlags(t, []string{"--table", "counts", "--tz", "America/Los_Angeles", "--since", "2021-03-14", "--until", "2021-03-14"}, false, "")
	since, until := time.Date(2021, 3, 14, 8, 0, 0, 0, time.UTC), time.Date(2021, 3, 15, 7, 0, 0, 0, time.UTC) // PST, then PDT
	if !got.Filter.Since.Equal(since) || !got.Filter.Until.Equal(until) {
		t.Errorf("since %s until %s, want %s and %s", got.Filter.Since, got.Filter.Until, since, until)
	}
	got = parseExportFlags(t, []string{"--table", "counts", "--since", "2021-03-14"}, false, "")
	if want := time.Date(2021, 3, 14, 0, 0, 0, 0, time.UTC); !got.Filter.Since.Equal(want) {
		t.Errorf("since %s, want %s", got.Filter.Since, want)
	}
}

// TestExportIDFlag: --id is repeatable, keeps commas inside an id, and is
// refused, like every event filter, for the runs table, which has no events.
func TestExportIDFlag(t *testing.T) {
	got := parseExportFlags(t, []string{"--table", "changes", "--id", "511.org/1", "--id", "a,b"}, false, "")
	if want := []string{"511.org/1", "a,b"}; !slices.Equal(got.Filter.IDs, want) {
		t.Errorf("ids %q, want %q", got.Filter.IDs, want)
	}
	parseExportFlags(t, []string{"--table", "runs", "--id", "511.org/1"}, false, "--id: the runs table has no events")
	parseExportFlags(t, []string{"--table", "runs", "--category", "incident"}, false, "--category: the runs table has no events")
	parseExportFlags(t, []string{"--table", "runs", "--event-type", "INCIDENT", "--severity", "Major", "--status", "ACTIVE", "--bbox", "-123,37,-121,38"},
		false, "--event-type, --severity, --status, --bbox: the runs table has no events")
	parseExportFlags(t, []string{"--table", "runs", "--feed", "511.org", "--since", "2026-11-01"}, false, "")
	parseExportFlags(t, []string{"--table", "changes", "--geojson"}, false, "no geometry")
	parseExportFlags(t, []string{"--table", "changes", "--raw"}, false, "no raw column")
}

// TestExportCategoryFlag: --category takes the vocabulary's values, and
// refuses others; --by category groups counts.
func TestExportCategoryFlag(t *testing.T) {
	got := parseExportFlags(t, []string{"--table", "lifetimes", "--category", "incident,construction", "--category", "detour"}, false, "")
	if want := []string{"incident", "construction", "detour"}; !slices.Equal(got.Filter.Categories, want) {
		t.Errorf("categories %q, want %q", got.Filter.Categories, want)
	}
	parseExportFlags(t, []string{"--category", "INCIDENT"}, false, `--category "INCIDENT": use incident, construction`)
	got = parseExportFlags(t, []string{"--table", "counts", "--by", "category"}, false, "")
	if got.Series.By != store.ByCategory {
		t.Errorf("--by category: %q", got.Series.By)
	}
}
