package collect_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// A snapshot that has events and none that can be read fails the run and
// closes nothing: it was a successful run that closed every open event.
// A snapshot with no events at all still closes them (history.txtar).
func TestSnapshotWithNoReadableEventFailsAndClosesNothing(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 400) + strings.Repeat("]", 400)
	bodies := map[string][2]string{
		"open511": {`{"events":[{"id":"a","headline":"A"},{"id":"b","headline":"B"}],"pagination":{"next_url":null}}`,
			`{"events":[{"headline":"no id"},{"id":"deep","x":` + deep + `},"not an object"],"pagination":{"next_url":null}}`},
		"wzdx": {`{"type":"FeatureCollection","features":[{"type":"Feature","id":"a","properties":{}},{"type":"Feature","id":"b","properties":{}}]}`,
			`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{}},{"type":"Feature","id":"deep","properties":{"x":` + deep + `}},7]}`},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		for _, format := range []string{"open511", "wzdx"} {
			h := newHarness(t, dbURL)
			if _, err := h.runFormat(format, bodies[format][0], false); err != nil {
				t.Fatalf("%s: first run: %v", format, err)
			}
			for _, dryRun := range []bool{true, false} {
				sum, err := h.runFormat(format, bodies[format][1], dryRun)
				if err == nil || !strings.Contains(err.Error(), "none of the snapshot's 3 events could be read") {
					t.Errorf("%s (dry run %v): err = %v, want none of 3 events read", format, dryRun, err)
				}
				if sum.Closed != 0 || sum.Received != 3 || sum.Skipped != 3 {
					t.Errorf("%s (dry run %v): summary %+v, want 3 received, 3 skipped, none closed", format, dryRun, sum)
				}
			}
			var runs []store.FetchRun
			if err := h.st.Runs(ctx, store.Filter{Feeds: []string{format}}, func(r *store.FetchRun) error { runs = append(runs, *r); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 || runs[1].Status != store.RunFailed || runs[1].EventsSkipped != 3 || runs[1].EventsClosed != 0 {
				t.Errorf("%s: ledger %+v, want the second run failed with 3 skipped", format, runs)
			}
			// The first run's events are all still there, and open.
			var events []string
			if err := h.st.Events(ctx, store.Filter{Feeds: []string{format}}, func(e *store.Event) error {
				if e.ClosedAt != nil {
					events = append(events, e.ID+" (closed)")
				} else {
					events = append(events, e.ID)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(events, []string{"a", "b"}) {
				t.Errorf("%s: events %q, want a and b open", format, events)
			}
		}
	})
}
