package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

var ctx = context.Background()

var (
	t1 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	t3 = t1.Add(20 * time.Minute)
)

// seed stores four runs: the two-page snapshot, a failure, the second
// snapshot with 763111 ARCHIVED (every fixture event is ACTIVE otherwise),
// and the second snapshot as it is.
func seed(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	second := ledgertest.Events(t, "511/events_snapshot2.json")
	ledgertest.Seed(t, s, []ledgertest.Run{
		{At: t1, Fixtures: []string{"511/events_page1.json", "511/events_page2.json"}},
		{At: t1.Add(10 * time.Minute), Fail: "fetch page 1 of http://feed.test/traffic/events: 503 Service Unavailable"},
		{At: t3, Events: ledgertest.Edit(t, second, "511.org/763111", "status", "ARCHIVED")},
		{At: t1.Add(30 * time.Minute), Events: second},
	})
	return s
}

// wantRows are the row counts of the seeded tables: 8 events then 1 new;
// versions: 8 + 763104 changed + 763127 new + 763111 archived and back;
// lifetimes: one per event; counts: the three runs are in one hour.
// changes: 763104's headline, severity, updated and starts_at, and
// 763111's status twice.
var wantRows = map[string]int{export.Events: 9, export.Versions: 12, export.Runs: 4, export.Snapshots: 24, export.Lifetimes: 9, export.Counts: 1, export.Changes: 6}

// hasRaw says whether a table's JSON Lines end with the event's raw.
func hasRaw(table string) bool {
	return table == export.Events || table == export.Versions || table == export.Snapshots
}

func write(t *testing.T, s *store.Store, opts export.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := export.Write(ctx, s, opts, &buf); err != nil {
		t.Fatalf("export %s as %s: %v", opts.Table, opts.Format, err)
	}
	return buf.Bytes()
}

func readCSV(t *testing.T, b []byte) (header []string, rows [][]string) {
	t.Helper()
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(records) == 0 {
		t.Fatal("CSV has no header")
	}
	return records[0], records[1:]
}

// objectKeys returns the keys of a JSON object in the order written.
func objectKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sameJSON compares two JSON texts by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// checkValue says how a JSON value differs from the CSV field of the same
// column, or "" when they agree: numbers as numbers, times as the same RFC
// 3339 UTC text, JSON columns nested, an empty field as null.
func checkValue(col export.Column, field string, v json.RawMessage) string {
	null := string(v) == "null"
	if field == "" && col.Kind != export.Text && col.Kind != export.Int {
		if !null {
			return fmt.Sprintf("empty CSV field but JSON %s", v)
		}
		return ""
	}
	switch col.Kind {
	case export.Text:
		var s string
		if err := json.Unmarshal(v, &s); err != nil || s != field {
			return fmt.Sprintf("JSON %s, CSV %q", v, field)
		}
	case export.Int:
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil || string(v) != field {
			return fmt.Sprintf("JSON %s is not the integer %s", v, field)
		}
	case export.Float:
		got, err1 := strconv.ParseFloat(string(v), 64)
		want, err2 := strconv.ParseFloat(field, 64)
		if err1 != nil || err2 != nil || got != want {
			return fmt.Sprintf("JSON %s is not the number %s", v, field)
		}
	case export.Time:
		var s string
		if err := json.Unmarshal(v, &s); err != nil || s != field {
			return fmt.Sprintf("JSON %s, CSV %q", v, field)
		}
		if tm, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") || tm.Nanosecond() != 0 {
			return fmt.Sprintf("%s is not RFC 3339 UTC to the second", s)
		}
	case export.JSON:
		if v[0] != '{' && v[0] != '[' {
			return fmt.Sprintf("JSON %s is not nested", v)
		}
		if !sameJSON(v, []byte(field)) {
			return fmt.Sprintf("JSON %s, CSV %s", v, field)
		}
	}
	return ""
}

func TestJSONLMatchesCSV(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seed(t, dbURL)
		for _, table := range export.Tables {
			t.Run(table, func(t *testing.T) {
				header, rows := readCSV(t, write(t, s, export.Options{Table: table, Format: export.CSV}))
				if len(rows) != wantRows[table] {
					t.Fatalf("%d CSV rows, want %d", len(rows), wantRows[table])
				}
				cols := export.Header(table, export.CSV)
				lines := strings.Split(strings.TrimSuffix(string(write(t, s, export.Options{Table: table, Format: export.JSONL})), "\n"), "\n")
				if len(lines) != len(rows) {
					t.Fatalf("%d JSON lines, %d CSV rows", len(lines), len(rows))
				}
				wantKeys := slices.Clone(header)
				if hasRaw(table) {
					wantKeys = append(wantKeys, "raw")
				}
				for i, line := range lines {
					if keys := objectKeys(t, []byte(line)); !reflect.DeepEqual(keys, wantKeys) {
						t.Fatalf("line %d keys %v, want the CSV header %v", i+1, keys, wantKeys)
					}
					var obj map[string]json.RawMessage
					if err := json.Unmarshal([]byte(line), &obj); err != nil {
						t.Fatalf("line %d: %v", i+1, err)
					}
					for j, col := range cols {
						if msg := checkValue(col, rows[i][j], obj[col.Name]); msg != "" {
							t.Errorf("line %d %s: %s", i+1, col.Name, msg)
						}
					}
					if !hasRaw(table) {
						continue
					}
					var raw struct{ ID string }
					if err := json.Unmarshal(obj["raw"], &raw); err != nil || raw.ID != rows[i][slices.Index(header, idColumn(table))] {
						t.Errorf("line %d: raw %.80s is not the event object of this row (%v)", i+1, obj["raw"], err)
					}
				}
			})
		}
	})
}

func idColumn(table string) string {
	if table == export.Versions {
		return "event_id"
	}
	return "id"
}

func TestGeoJSONMatchesCSV(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seed(t, dbURL)
		for _, table := range export.Tables {
			t.Run(table, func(t *testing.T) {
				if table == export.Runs || table == export.Lifetimes || table == export.Counts || table == export.Changes {
					// Rows without a geometry would be no map at all.
					_, err := export.Write(ctx, s, export.Options{Table: table, Format: export.GeoJSON}, io.Discard)
					if err == nil || !strings.Contains(err.Error(), "no geometry") {
						t.Fatalf("%s as GeoJSON: err %v, want a refusal", table, err)
					}
					return
				}
				header, rows := readCSV(t, write(t, s, export.Options{Table: table, Format: export.CSV}))
				cols := export.Header(table, export.CSV)
				var fc struct {
					Type     string
					Features []struct {
						Type       string
						Geometry   json.RawMessage
						Properties json.RawMessage
					}
				}
				if err := json.Unmarshal(write(t, s, export.Options{Table: table, Format: export.GeoJSON}), &fc); err != nil {
					t.Fatalf("GeoJSON does not parse: %v", err)
				}
				if fc.Type != "FeatureCollection" || len(fc.Features) != len(rows) || len(rows) != wantRows[table] {
					t.Fatalf("type %q with %d features, %d CSV rows, want %d", fc.Type, len(fc.Features), len(rows), wantRows[table])
				}
				geom := slices.Index(header, "geometry")
				wantKeys := slices.DeleteFunc(slices.Clone(header), func(k string) bool { return k == "geometry" })
				for i, f := range fc.Features {
					if f.Type != "Feature" {
						t.Fatalf("feature %d has type %q", i, f.Type)
					}
					if keys := objectKeys(t, f.Properties); !reflect.DeepEqual(keys, wantKeys) {
						t.Fatalf("feature %d properties %v, want the CSV header without geometry %v", i, keys, wantKeys)
					}
					var props map[string]json.RawMessage
					if err := json.Unmarshal(f.Properties, &props); err != nil {
						t.Fatal(err)
					}
					for j, col := range cols {
						if j == geom {
							continue
						}
						if msg := checkValue(col, rows[i][j], props[col.Name]); msg != "" {
							t.Errorf("feature %d %s: %s", i, col.Name, msg)
						}
					}
					if geom < 0 {
						if string(f.Geometry) != "null" {
							t.Errorf("feature %d of %s has geometry %s", i, table, f.Geometry)
						}
						continue
					}
					if !sameJSON(f.Geometry, []byte(rows[i][geom])) {
						t.Errorf("feature %d geometry %s, CSV %s", i, f.Geometry, rows[i][geom])
					}
					checkPosition(t, f.Geometry, rows[i][slices.Index(header, "lon")], rows[i][slices.Index(header, "lat")])
				}
			})
		}
	})
}

// checkPosition: GeoJSON positions are [lon, lat]; the CSV's lat and lon
// are the Point, or the first vertex of a LineString.
func checkPosition(t *testing.T, geometry json.RawMessage, lon, lat string) {
	t.Helper()
	var g struct {
		Type        string
		Coordinates json.RawMessage
	}
	if err := json.Unmarshal(geometry, &g); err != nil {
		t.Fatal(err)
	}
	var first []float64
	switch g.Type {
	case "Point":
		json.Unmarshal(g.Coordinates, &first)
	case "LineString":
		var line [][]float64
		json.Unmarshal(g.Coordinates, &line)
		if len(line) > 0 {
			first = line[0]
		}
	default:
		return
	}
	if len(first) < 2 || strconv.FormatFloat(first[0], 'f', -1, 64) != lon || strconv.FormatFloat(first[1], 'f', -1, 64) != lat {
		t.Errorf("%s starts at %v, CSV lon %s lat %s", g.Type, first, lon, lat)
	}
}

// row is a CSV record by column name.
type row map[string]string

func csvRows(t *testing.T, b []byte) []row {
	t.Helper()
	header, records := readCSV(t, b)
	var rows []row
	for _, rec := range records {
		r := row{}
		for i, h := range header {
			r[h] = rec[i]
		}
		rows = append(rows, r)
	}
	return rows
}

func (r row) time(col string) time.Time {
	tm, _ := time.Parse(time.RFC3339, r[col])
	return tm
}

// matches is what each filter means, written independently of the SQL:
// content filters on the event columns; Since/Until on the run's start for
// runs and snapshots, and on overlap for events and versions.
func matches(table string, f store.Filter, r row) bool {
	if table != export.Runs {
		if len(f.EventTypes) > 0 && !slices.Contains(f.EventTypes, r["event_type"]) ||
			len(f.Categories) > 0 && !slices.Contains(f.Categories, r["category"]) ||
			len(f.Severities) > 0 && !slices.Contains(f.Severities, r["severity"]) ||
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, r["status"]) {
			return false
		}
		if b := f.BBox; b != nil {
			lon, err1 := strconv.ParseFloat(r["lon"], 64)
			lat, err2 := strconv.ParseFloat(r["lat"], 64)
			if err1 != nil || err2 != nil || lon < b.MinLon || lon > b.MaxLon || lat < b.MinLat || lat > b.MaxLat {
				return false
			}
		}
	}
	var from, to time.Time // the row's span in time
	switch table {
	case export.Events, export.Lifetimes:
		from, to = r.time("first_seen_at"), r.time("last_seen_at")
	case export.Versions:
		from, to = r.time("valid_from"), r.time("valid_to")
	case export.Snapshots:
		from, to = r.time("observed_at"), r.time("observed_at")
	case export.Runs:
		from, to = r.time("started_at"), r.time("started_at")
	}
	return (f.Since.IsZero() || !to.Before(f.Since)) && (f.Until.IsZero() || from.Before(f.Until))
}

// spanTables are the tables whose rows --since and --until select (counts
// are a series they bound instead: see counts_test.go; changes are
// checked in changes_test.go).
var spanTables = slices.DeleteFunc(slices.Clone(export.Tables), func(t string) bool { return t == export.Counts || t == export.Changes })

func TestFiltersSelectTheMatchingRows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		filter store.Filter
		tables []string
	}{
		{"event type", store.Filter{EventTypes: []string{"INCIDENT"}}, nil},
		{"category", store.Filter{Categories: []string{"construction", "weather"}}, []string{export.Events, export.Versions, export.Snapshots, export.Lifetimes}},
		{"severities", store.Filter{Severities: []string{"Major", "Minor"}}, nil},
		{"status", store.Filter{Statuses: []string{"ARCHIVED"}}, nil},
		{"bbox", store.Filter{BBox: &store.BBox{MinLon: -122.0, MinLat: 37.0, MaxLon: -121.5, MaxLat: 37.5}}, nil},
		{"type and bbox", store.Filter{EventTypes: []string{"CONSTRUCTION"}, BBox: &store.BBox{MinLon: -122.0, MinLat: 37.0, MaxLon: -121.5, MaxLat: 37.5}}, nil},
		{"since", store.Filter{Since: t3}, spanTables},
		{"until", store.Filter{Until: t3}, spanTables},
		{"since and until", store.Filter{Since: t1.Add(5 * time.Minute), Until: t1.Add(25 * time.Minute)}, spanTables},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seed(t, dbURL)
		all := map[string][]row{}
		for _, table := range export.Tables {
			all[table] = csvRows(t, write(t, s, export.Options{Table: table, Format: export.CSV}))
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tables := c.tables
				if tables == nil {
					tables = []string{export.Events, export.Versions, export.Snapshots}
				}
				selected := 0
				for _, table := range tables {
					var want []row
					for _, r := range all[table] {
						if matches(table, c.filter, r) {
							want = append(want, r)
						}
					}
					got := csvRows(t, write(t, s, export.Options{Table: table, Format: export.CSV, Filter: c.filter}))
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: %d rows, want %d:\ngot  %v\nwant %v", table, len(got), len(want), got, want)
					}
					if len(want) == len(all[table]) && len(want) > 0 {
						t.Errorf("%s: the filter keeps all %d rows, so this case tests nothing", table, len(want))
					}
					selected += len(want)
				}
				if selected == 0 {
					t.Errorf("no table has a row this filter keeps, so this case tests nothing")
				}
			})
		}
	})
}
