package export_test

import (
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/replaytest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestCountsInLocalTime: with a time zone, counts are per local day (25
// hours on the day the clocks fall back, 23 when they spring forward) and
// per hour of it, and match a computation from the snapshots on both
// dialects.
func TestCountsInLocalTime(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	// Runs every 50 minutes from the evening before each change to the
	// morning after, with a gap of a few hours in the fall-back night.
	var steps []replaytest.Step
	for _, from := range []time.Time{time.Date(2021, 11, 6, 20, 0, 0, 0, la), time.Date(2021, 3, 13, 20, 0, 0, 0, la)} {
		for i := 0; i < 40; i++ {
			at := from.Add(time.Duration(i) * 50 * time.Minute)
			if at.Month() == time.November && i >= 8 && i < 11 {
				continue
			}
			steps = append(steps, replaytest.Step{At: at.UTC(), Snapshot: i % 20})
		}
	}
	// The ledger is in id order: spring comes first.
	steps = append(steps[40-3:], steps[:40-3]...)
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		replaytest.Replay(t, s, steps)
		h := readHistory(t, s)
		for _, c := range []struct {
			name  string
			every time.Duration
			by    string
			days  map[string]string // interval_start → interval_end, for the days checked
		}{
			{"daily", 24 * time.Hour, store.ByNone, map[string]string{
				"2021-11-07T07:00:00Z": "2021-11-08T08:00:00Z", // 25 hours
				"2021-03-14T08:00:00Z": "2021-03-15T07:00:00Z", // 23 hours
			}},
			{"hourly by severity", time.Hour, store.BySeverity, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				series := store.Series{Every: c.every, By: c.by, Location: la}
				got := jsonlRows(t, write(t, s, export.Options{Table: export.Counts, Format: export.JSONL, Series: series}), nil)
				sameRows(t, "counts", got, h.counts(store.Filter{}, c.every, c.by, la))
				for _, r := range got {
					if end, ok := c.days[r["interval_start"]]; ok && r["interval_end"] != end {
						t.Errorf("the day from %s ends at %s, want %s", r["interval_start"], r["interval_end"], end)
					}
					delete(c.days, r["interval_start"])
				}
				if len(c.days) > 0 {
					t.Errorf("no interval starts at %v", c.days)
				}
			})
		}
	})
}
