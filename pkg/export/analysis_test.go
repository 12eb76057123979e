package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// The lifetimes and counts exports are checked against a computation of
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
				"category": last["category"], "impact": last["impact"], "road": last["road"], "direction": last["direction"],
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
	return matches(export.Snapshots, store.Filter{EventTypes: f.EventTypes, Categories: f.Categories, Severities: f.Severities, Statuses: f.Statuses, BBox: f.BBox}, r)
}

// counts computes the counts export, per feed and interval: the runs that
// started in it; the events they list; those whose first run is one of
// them; and those the run before one of them listed and it does not.
func (h history) counts(f store.Filter, every time.Duration, by string, loc *time.Location) []row {
	grouped := by == store.ByEventType || by == store.BySeverity || by == store.ByCategory
	group := func(r row) string {
		if grouped {
			return r[by]
		}
		return ""
	}
	floor := func(t time.Time) time.Time { return time.Unix(0, t.UnixNano()/int64(every)*int64(every)).UTC() }
	next := func(t time.Time) time.Time { return t.Add(every) }
	if loc != nil {
		// Days from the local calendar; hours (in a zone whose offsets are
		// whole hours) are the UTC hours.
		floor = func(t time.Time) time.Time {
			if every < 24*time.Hour {
				return t.Truncate(every).UTC()
			}
			y, m, d := t.In(loc).Date()
			return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
		}
		next = func(t time.Time) time.Time {
			if every < 24*time.Hour {
				return t.Add(every)
			}
			y, m, d := t.In(loc).Date()
			return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
		}
	}
	var out []row
	for _, feed := range h.feeds {
		if len(f.Feeds) > 0 && !slices.Contains(f.Feeds, feed) {
			continue
		}
		runs := h.runs[feed]
		from, to := runs[0].at, runs[len(runs)-1].at.Add(time.Second)
		if !f.Since.IsZero() {
			from = f.Since
		}
		if !f.Until.IsZero() {
			to = f.Until
		}
		if !from.Before(to) {
			continue // nothing of this feed's is in [Since, Until)
		}
		seen := map[string]bool{}
		firstRun := map[string]int{}
		for i, r := range runs {
			for id := range r.events {
				if !seen[id] {
					seen[id], firstRun[id] = true, i
				}
			}
		}
		for start := floor(from); start.Before(to); start = next(start) {
			end := next(start)
			base := row{"interval_start": start.Format(time.RFC3339), "interval_end": end.Format(time.RFC3339), "feed": feed}
			open, nw, closed := map[string]map[string]bool{}, map[string]int{}, map[string]int{}
			groups := map[string]bool{}
			n := 0
			for i, r := range runs {
				if r.at.Before(start) || !r.at.Before(end) {
					continue
				}
				n++
				for id, e := range r.events {
					if !keeps(f, feed, e) {
						continue
					}
					g := group(e)
					groups[g] = true
					if open[g] == nil {
						open[g] = map[string]bool{}
					}
					open[g][id] = true
					if firstRun[id] == i {
						nw[g]++
					}
				}
				if i == 0 {
					continue
				}
				for id, e := range runs[i-1].events {
					if _, still := r.events[id]; !still && keeps(f, feed, e) {
						closed[group(e)]++
						groups[group(e)] = true
					}
				}
			}
			emit := func(g *string) {
				r := row{}
				for k, v := range base {
					r[k] = v
				}
				if grouped {
					r[by] = "null"
					if g != nil {
						r[by] = *g
					}
				}
				r["runs"] = fmt.Sprint(n)
				r["open_events"], r["new_events"], r["closed_events"] = "null", "null", "null"
				if n > 0 {
					key := ""
					if g != nil {
						key = *g
					}
					r["open_events"], r["new_events"], r["closed_events"] = fmt.Sprint(len(open[key])), fmt.Sprint(nw[key]), fmt.Sprint(closed[key])
				}
				out = append(out, r)
			}
			if n == 0 || !grouped || len(groups) == 0 {
				if !grouped && n > 0 {
					g := ""
					emit(&g)
				} else {
					emit(nil)
				}
				continue
			}
			names := make([]string, 0, len(groups))
			for g := range groups {
				names = append(names, g)
			}
			sort.Strings(names)
			for _, g := range names {
				emit(&g)
			}
		}
	}
	return out
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
		{"construction", store.Filter{Categories: []string{"construction"}}},
		{"major now", store.Filter{Severities: []string{"Major"}}},
		{"feed other", store.Filter{Feeds: []string{"other"}}},
		{"overlap", store.Filter{Since: gappyDay.Add(9 * time.Hour), Until: gappyDay.Add(12 * time.Hour)}},
		{"after the gap", store.Filter{Since: gappyDay.Add(11 * time.Hour)}},
	}
	keys := []string{"feed", "id", "headline", "event_type", "category", "impact", "road", "direction", "lat", "lon", "severity_first", "severity_last",
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

func TestCountsMatchTheSnapshots(t *testing.T) {
	cases := []struct {
		name   string
		every  time.Duration
		by     string
		filter store.Filter
	}{
		{"hourly", time.Hour, store.ByNone, store.Filter{}},
		{"hourly by feed", time.Hour, store.ByFeed, store.Filter{}},
		{"half-hourly by type", 30 * time.Minute, store.ByEventType, store.Filter{}},
		{"hourly incidents by category", time.Hour, store.ByCategory, store.Filter{Categories: []string{"incident"}}},
		{"every 20m by severity", 20 * time.Minute, store.BySeverity, store.Filter{}},
		{"every 7m", 7 * time.Minute, store.ByNone, store.Filter{}},
		{"10m bounded", 10 * time.Minute, store.BySeverity, store.Filter{Since: gappyDay.Add(8*time.Hour + 40*time.Minute), Until: gappyDay.Add(12 * time.Hour)}},
		{"wider than the data", time.Hour, store.ByEventType, store.Filter{Since: gappyDay.Add(6 * time.Hour), Until: gappyDay.Add(15 * time.Hour)}},
		{"since the gap", 25 * time.Minute, store.ByNone, store.Filter{Since: gappyDay.Add(10*time.Hour + 5*time.Minute)}},
		{"major incidents", 15 * time.Minute, store.ByEventType, store.Filter{Severities: []string{"Major"}}},
		{"feed other", 10 * time.Minute, store.ByEventType, store.Filter{Feeds: []string{"other"}}},
		{"daily", 24 * time.Hour, store.BySeverity, store.Filter{}},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := replayed(t, dbURL)
		h := readHistory(t, s)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := h.counts(c.filter, c.every, c.by, nil)
				keys := []string{"interval_start", "interval_end", "feed"}
				if c.by == store.ByEventType || c.by == store.BySeverity || c.by == store.ByCategory {
					keys = append(keys, c.by)
				}
				keys = append(keys, "runs", "open_events", "new_events", "closed_events")
				opts := export.Options{Table: export.Counts, Format: export.JSONL, Filter: c.filter, Series: store.Series{Every: c.every, By: c.by}}
				got := jsonlRows(t, write(t, s, opts), keys)
				sameRows(t, "counts", got, want)
				var missing, new, closed int
				for _, r := range want {
					if r["runs"] == "0" {
						missing++
					}
					if n, _ := strconv.Atoi(r["new_events"]); n > 0 {
						new++
					}
					if n, _ := strconv.Atoi(r["closed_events"]); n > 0 {
						closed++
					}
				}
				if c.every < 24*time.Hour && (missing == 0 || new == 0 || closed == 0) {
					t.Errorf("%d intervals without runs, %d with new events, %d with closed ones: the case tests too little", missing, new, closed)
				}
			})
		}
	})
}
