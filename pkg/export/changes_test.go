package export_test

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestChangesAreTheFieldsThatDiffer: the changes table is, computed here
// from the versions CSV alone, one row per content column that differs
// between an event's consecutive versions; --id, --since/--until (on
// changed_at) and the content filters (on the newer version) select its
// rows, in every format (JSON Lines is checked against CSV elsewhere).
func TestChangesAreTheFieldsThatDiffer(t *testing.T) {
	header := export.Header(export.Versions, export.CSV)
	at := slices.IndexFunc(header, func(c export.Column) bool { return c.Name == "content_hash" })
	var fields []string
	for _, c := range header[at+1:] {
		fields = append(fields, c.Name)
	}
	changedAt := func(r row) time.Time { return r.time("changed_at") }
	cases := []struct {
		name   string
		filter store.Filter
	}{
		{"all", store.Filter{}},
		{"one id", store.Filter{IDs: []string{"511.org/762714"}}},
		{"two ids", store.Filter{IDs: []string{"511.org/762714", "511.org/nothing", "511.org/763104"}}},
		{"since and until", store.Filter{Since: gappyDay.Add(8*time.Hour + 30*time.Minute), Until: gappyDay.Add(12 * time.Hour)}},
		{"major", store.Filter{Severities: []string{"Major"}}},
		{"feed other", store.Filter{Feeds: []string{"other"}}},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := replayed(t, dbURL)
		versions := csvRows(t, write(t, s, export.Options{Table: export.Versions, Format: export.CSV}))
		var all []row
		for i := 1; i < len(versions); i++ {
			prev, v := versions[i-1], versions[i]
			if prev["feed"] != v["feed"] || prev["event_id"] != v["event_id"] {
				continue
			}
			for _, f := range fields {
				if prev[f] != v[f] {
					all = append(all, row{"feed": v["feed"], "id": v["event_id"], "version": v["version"], "changed_at": v["valid_from"],
						"field": f, "old": prev[f], "new": v[f], "severity": v["severity"]})
				}
			}
		}
		fieldsSeen := map[string]bool{}
		for _, r := range all {
			fieldsSeen[r["field"]] = true
		}
		if !fieldsSeen["severity"] || !fieldsSeen["headline"] || !fieldsSeen["lat"] {
			t.Fatalf("the history changes only %v: too little to test", fieldsSeen)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := c.filter
				var want []row
				for _, r := range all {
					if (len(f.IDs) == 0 || slices.Contains(f.IDs, r["id"])) &&
						(len(f.Feeds) == 0 || slices.Contains(f.Feeds, r["feed"])) &&
						(len(f.Severities) == 0 || slices.Contains(f.Severities, r["severity"])) &&
						(f.Since.IsZero() || !changedAt(r).Before(f.Since)) && (f.Until.IsZero() || changedAt(r).Before(f.Until)) {
						w := row{}
						for k, v := range r {
							if k != "severity" {
								w[k] = v
							}
						}
						want = append(want, w)
					}
				}
				got := csvRows(t, write(t, s, export.Options{Table: export.Changes, Format: export.CSV, Filter: f}))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%d rows, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
				}
				if len(want) == 0 || c.name != "all" && len(want) == len(all) {
					t.Errorf("%d of %d rows kept: the case tests nothing", len(want), len(all))
				}
				for _, r := range got {
					if n, err := strconv.Atoi(r["version"]); err != nil || n < 2 {
						t.Errorf("version %q: a change is to version 2 or later", r["version"])
					}
				}
			})
		}
	})
}

// TestIDFilterOnEveryEventTable: --id keeps the rows of the events named,
// in every table with an event id, and counts only them.
func TestIDFilterOnEveryEventTable(t *testing.T) {
	ids := []string{"511.org/762714", "511.org/763104"}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := replayed(t, dbURL)
		for _, table := range []string{export.Events, export.Versions, export.Snapshots, export.Lifetimes, export.Changes} {
			all := csvRows(t, write(t, s, export.Options{Table: table, Format: export.CSV}))
			var want []row
			for _, r := range all {
				if slices.Contains(ids, r[idColumn(table)]) {
					want = append(want, r)
				}
			}
			got := csvRows(t, write(t, s, export.Options{Table: table, Format: export.CSV, Filter: store.Filter{IDs: ids}}))
			if !reflect.DeepEqual(got, want) || len(want) == 0 || len(want) == len(all) {
				t.Errorf("%s: %d of %d rows, want %d", table, len(got), len(all), len(want))
			}
		}
		present := map[string]bool{}
		for _, r := range csvRows(t, write(t, s, export.Options{Table: export.Snapshots, Format: export.CSV})) {
			if r["feed"] == "default" && slices.Contains(ids, r["id"]) {
				present[r["id"]] = true
			}
		}
		counts := csvRows(t, write(t, s, export.Options{Table: export.Counts, Format: export.CSV, Series: store.Series{Every: 24 * time.Hour}, Filter: store.Filter{IDs: ids, Feeds: []string{"default"}}}))
		if len(counts) != 1 || counts[0]["open_events"] != strconv.Itoa(len(present)) || len(present) == 0 {
			t.Errorf("counts of %d events in a day: %v", len(present), counts)
		}
	})
}
