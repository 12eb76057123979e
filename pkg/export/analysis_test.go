package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// The lifetimes export is checked against a computation of
// their own in this file, from nothing but the snapshots and runs exports
// (JSON Lines) and plain maps, over a replay of the real 2021 snapshots
// with a gap, a failed run, closures and two feeds (replaytest.Gappy).

// value is a JSON Lines value as text: strings unquoted, numbers and
// booleans as written, null as "null".
func value(t *testing.T, v json.RawMessage) string {
	t.Helper()
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	return string(v)
}

// jsonlRows reads a JSON Lines export, checking that every line has the
// keys given, in that order.
func jsonlRows(t *testing.T, b []byte, keys []string) []row {
	t.Helper()
	var rows []row
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if got := objectKeys(t, line); keys != nil && !slices.Equal(got, keys) {
			t.Fatalf("keys %v, want %v", got, keys)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			t.Fatal(err)
		}
		r := row{}
		for k, v := range obj {
			r[k] = value(t, v)
		}
		rows = append(rows, r)
	}
	return rows
}

// history is what the snapshots and runs exports say.
type history struct {
	feeds []string
	runs  map[string][]run // successful runs per feed, in id order
}

type run struct {
	id     string
	at     time.Time
	events map[string]row // id → the snapshot row
}

func readHistory(t *testing.T, s *store.Store) history {
	t.Helper()
	h := history{runs: map[string][]run{}}
	byID := map[string]*run{}
	for _, r := range jsonlRows(t, write(t, s, export.Options{Table: export.Runs, Format: export.JSONL}), nil) {
		if r["status"] != store.RunSucceeded {
			continue
		}
		at, _ := time.Parse(time.RFC3339, r["started_at"])
		if _, ok := h.runs[r["feed"]]; !ok {
			h.feeds = append(h.feeds, r["feed"])
		}
		h.runs[r["feed"]] = append(h.runs[r["feed"]], run{id: r["id"], at: at, events: map[string]row{}})
	}
	sort.Strings(h.feeds)
	for _, feed := range h.feeds {
		for i := range h.runs[feed] {
			byID[h.runs[feed][i].id] = &h.runs[feed][i]
		}
	}
	for _, r := range jsonlRows(t, write(t, s, export.Options{Table: export.Snapshots, Format: export.JSONL}), nil) {
		byID[r["run_id"]].events[r["id"]] = r
	}
	return h
}

// lifetimes computes the lifetimes export: each event's runs present, in
// order; a new spell wherever it was absent from the run before or its raw
// changed; closed at the first successful run after its last one.
func (h history) lifetimes(f store.Filter) []row {
	var out []row
	for _, feed := range h.feeds {
		runs := h.runs[feed]
		present := map[string][]int{} // id → indexes of the runs that list it
		for i, r := range runs {
			for id := range r.events {
				present[id] = append(present[id], i)
			}
		}
		ids := make([]string, 0, len(present))
		for id := range present {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			idx := present[id]
			first, last := runs[idx[0]].events[id], runs[idx[len(idx)-1]].events[id]
			spells := 0
			for j, i := range idx {
				if j == 0 || idx[j-1] != i-1 || runs[i-1].events[id]["raw"] != runs[i].events[id]["raw"] {
					spells++
				}
			}
			firstSeen, lastSeen := runs[idx[0]].at, runs[idx[len(idx)-1]].at
			end, closed := lastSeen, "null"
			if n := idx[len(idx)-1]; n < len(runs)-1 {
				end, closed = runs[n+1].at, runs[n+1].at.Format(time.RFC3339)
			}
			if !keeps(f, feed, last) || !f.Since.IsZero() && lastSeen.Before(f.Since) || !f.Until.IsZero() && !firstSeen.Before(f.Until) {
				continue
			}
			out = append(out, row{
				"feed": feed, "id": id, "headline": last["headline"], "event_type": last["event_type"],
				"lat": last["lat"], "lon": last["lon"], "severity_first": first["severity"], "severity_last": last["severity"],
				"first_seen_at": firstSeen.Format(time.RFC3339), "last_seen_at": lastSeen.Format(time.RFC3339), "closed_at": closed,
				"duration_seconds": fmt.Sprint(int64(end.Sub(firstSeen).Seconds())),
				"versions":         fmt.Sprint(spells), "runs_present": fmt.Sprint(len(idx)),
				"open": fmt.Sprint(closed == "null"), "seen_at_start": fmt.Sprint(idx[0] == 0),
			})
		}
	}
	return out
}

// keeps is the content filter on a snapshot row.
func keeps(f store.Filter, feed string, r row) bool {
	if len(f.Feeds) > 0 && !slices.Contains(f.Feeds, feed) {
		return false
	}
	return matches(export.Snapshots, store.Filter{EventTypes: f.EventTypes, Severities: f.Severities, Statuses: f.Statuses, BBox: f.BBox}, r)
}

func sameRows(t *testing.T, what string, got, want []row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: row %d\n got %v\nwant %v", what, i, got[i], want[i])
		}
	}
}

var gappyDay = time.Date(2021, 4, 27, 0, 0, 0, 0, time.UTC)

func TestLifetimesMatchTheSnapshots(t *testing.T) {
	cases := []struct {
		name   string
		filter store.Filter
	}{
		{"all", store.Filter{}},
		{"incidents", store.Filter{EventTypes: []string{"INCIDENT"}}},
		{"major now", store.Filter{Severities: []string{"Major"}}},
		{"feed other", store.Filter{Feeds: []string{"other"}}},
		{"overlap", store.Filter{Since: gappyDay.Add(9 * time.Hour), Until: gappyDay.Add(12 * time.Hour)}},
		{"after the gap", store.Filter{Since: gappyDay.Add(11 * time.Hour)}},
	}
	keys := []string{"feed", "id", "headline", "event_type", "lat", "lon", "severity_first", "severity_last",
		"first_seen_at", "last_seen_at", "closed_at", "duration_seconds", "versions", "runs_present", "open", "seen_at_start"}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := replayed(t, dbURL)
		h := readHistory(t, s)
		all := h.lifetimes(store.Filter{})
		// The history has what the columns are about.
		var open, closed, atStart, respelled, returned int
		for _, r := range all {
			switch {
			case r["open"] == "true":
				open++
			default:
				closed++
			}
			if r["seen_at_start"] == "true" {
				atStart++
			}
			if r["versions"] != "1" {
				respelled++
			}
			if r["severity_first"] != r["severity_last"] {
				returned++
			}
		}
		if open == 0 || closed == 0 || atStart == 0 || atStart == len(all) || respelled == 0 || returned == 0 {
			t.Fatalf("%d open, %d closed, %d seen at start, %d with several spells, %d changed severity: the history tests too little", open, closed, atStart, respelled, returned)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := h.lifetimes(c.filter)
				if len(want) == 0 || (c.name != "all" && len(want) == len(all)) {
					t.Fatalf("the filter keeps %d of %d events: it tests nothing", len(want), len(all))
				}
				got := jsonlRows(t, write(t, s, export.Options{Table: export.Lifetimes, Format: export.JSONL, Filter: c.filter}), keys)
				sameRows(t, "lifetimes", got, want)
			})
		}
	})
}
