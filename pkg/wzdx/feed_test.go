package wzdx_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // America/Los_Angeles without the system's zoneinfo

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

const testdata = "../../testdata/wzdx/"

// serve starts a local server that answers every request with body.
func serve(t testing.TB, body []byte) *feedtest.Server {
	t.Helper()
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	if err := srv.SetBodies(body); err != nil {
		t.Fatal(err)
	}
	return srv
}

func serveFile(t testing.TB, name string) *feedtest.Server {
	t.Helper()
	body, err := os.ReadFile(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, body)
}

// newFeed reads srv; its warnings go to log.
func newFeed(srv *feedtest.Server, log *bytes.Buffer) *wzdx.Feed {
	f := &wzdx.Feed{
		URL:    srv.URL(),
		Source: &source.Client{APIKey: "test-key-0001", Backoff: time.Millisecond, Timeout: 5 * time.Second, UserAgent: "trafficctl/test"},
	}
	if log != nil {
		f.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	return f
}

// result is one snapshot read whole, in feed order, with the sizes of the
// batches sink got.
type result struct {
	events  []traffic.Event
	byID    map[string]traffic.Event
	batches []int
	traffic.Snapshot
}

func stream(t testing.TB, f *wzdx.Feed, stored func(id, hash string) bool) (*result, error) {
	t.Helper()
	r := &result{byID: map[string]traffic.Event{}}
	snap, err := f.Stream(context.Background(), stored, func(events []traffic.Event) error {
		r.batches = append(r.batches, len(events))
		r.events = append(r.events, events...)
		for _, e := range events {
			r.byID[e.ID] = e
		}
		return nil
	})
	r.Snapshot = snap
	return r, err
}

func utc(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// check compares the typed fields of got with want; Raw and ContentHash
// are not compared.
func check(t *testing.T, got, want traffic.Event) {
	t.Helper()
	texts := []struct{ name, got, want string }{
		{"id", got.ID, want.ID}, {"headline", got.Headline, want.Headline}, {"event_type", got.EventType, want.EventType},
		{"severity", got.Severity, want.Severity}, {"status", got.Status, want.Status},
		{"event_subtypes", got.EventSubtypes, want.EventSubtypes}, {"description", got.Description, want.Description},
		{"roads", got.Roads, want.Roads}, {"areas", got.Areas, want.Areas}, {"geometry_type", got.GeometryType, want.GeometryType},
	}
	for _, f := range texts {
		if f.got != f.want {
			t.Errorf("%s: %s = %q, want %q", want.ID, f.name, f.got, f.want)
		}
	}
	times := []struct {
		name      string
		got, want *time.Time
	}{{"created", got.Created, want.Created}, {"updated", got.Updated, want.Updated}, {"starts_at", got.StartsAt, want.StartsAt}, {"ends_at", got.EndsAt, want.EndsAt}}
	for _, f := range times {
		switch {
		case (f.got == nil) != (f.want == nil):
			t.Errorf("%s: %s = %v, want %v", want.ID, f.name, f.got, f.want)
		case f.got != nil && (!f.got.Equal(*f.want) || f.got.Location() != time.UTC):
			t.Errorf("%s: %s = %v, want %v in UTC", want.ID, f.name, f.got, f.want)
		}
	}
	floats := []struct {
		name      string
		got, want *float64
	}{{"lat", got.Lat, want.Lat}, {"lon", got.Lon, want.Lon}}
	for _, f := range floats {
		if (f.got == nil) != (f.want == nil) || (f.got != nil && *f.got != *f.want) {
			t.Errorf("%s: %s = %v, want %v", want.ID, f.name, deref(f.got), deref(f.want))
		}
	}
	if want.Geometry != "" && got.Geometry != want.Geometry {
		t.Errorf("%s: geometry = %s, want %s", want.ID, got.Geometry, want.Geometry)
	}
	if want.GeometryType == "" && got.Geometry != "" {
		t.Errorf("%s: geometry = %s, want none", want.ID, got.Geometry)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func ptr(f float64) *float64 { return &f }

func TestStream511WZDx(t *testing.T) {
	srv := serveFile(t, "511-mtc-v4.1.json")
	var log bytes.Buffer
	f := newFeed(srv, &log)
	f.Params = map[string]string{"format": "json"}
	r, err := stream(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pages != 1 || r.Received != 1186 || r.Skipped != 0 || r.Duplicates != 0 || len(r.events) != 1186 || len(r.byID) != 1186 {
		t.Fatalf("pages=%d received=%d skipped=%d duplicates=%d events=%d unique=%d", r.Pages, r.Received, r.Skipped, r.Duplicates, len(r.events), len(r.byID))
	}
	if want := []int{500, 500, 186}; !equalInts(r.batches, want) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	types := map[string]int{}
	eventTypes := map[string]int{}
	for _, e := range r.events {
		types[e.GeometryType]++
		eventTypes[e.EventType]++
		if e.ID == "" || e.EventType == "" || e.Geometry == "" || e.Lat == nil || e.Lon == nil || e.Raw == "" || e.ContentHash == "" || e.Headline == "" {
			t.Fatalf("incomplete event %+v", e)
		}
	}
	if types["LineString"] != 1172 || types["MultiPoint"] != 14 || len(types) != 2 {
		t.Errorf("geometry types %v", types)
	}
	if eventTypes["detour"] != 775 || eventTypes["work-zone"] != 411 {
		t.Errorf("event types %v", eventTypes)
	}
	if log.Len() != 0 {
		t.Errorf("warnings for a clean feed:\n%s", log.String())
	}
	q := srv.Requests()[0].Query()
	if len(srv.Requests()) != 1 || q.Get("format") != "json" || q.Get("api_key") != "test-key-0001" {
		t.Errorf("requests %v", srv.Requests())
	}

	// One detour and one work zone, field by field against the file.
	check(t, r.byID["SJ-5639_NB"], traffic.Event{
		ID: "SJ-5639_NB", Headline: "detour on TOWNSEND PARK CL northbound", EventType: "detour", Status: "active",
		Description: "Pavement resurfacing", Roads: "TOWNSEND PARK CL (northbound)",
		Created: utc("2025-08-13T00:39:16Z"), Updated: utc("2025-10-10T16:15:01Z"),
		StartsAt: utc("2025-09-25T17:25:17Z"), EndsAt: utc("2025-11-26T17:25:29Z"),
		GeometryType: "LineString", Geometry: `{"type":"LineString","coordinates":[[-121.8869762,37.3772008],[-121.8853392,37.3788702]]}`,
		Lat: ptr(37.3772008), Lon: ptr(-121.8869762),
	})
	check(t, r.byID["TM-MTC-1399949"], traffic.Event{
		ID: "TM-MTC-1399949", Headline: "work-zone on I-80 W westbound", EventType: "work-zone", Severity: "some-lanes-closed", Status: "active",
		EventSubtypes: "surface-work", Roads: "I-80 W (westbound)",
		Description: "Caltrans : Long-term construction on I-80 Westbound exiting at Appian Way (Pinole). Left lane closed. Expect delays.",
		Created:     utc("2025-09-19T20:45:37Z"), Updated: utc("2025-09-19T20:45:37Z"),
		StartsAt: utc("2025-09-19T20:16:00Z"), EndsAt: utc("2026-02-27T14:00:00Z"),
		GeometryType: "MultiPoint", Geometry: `{"type":"MultiPoint","coordinates":[[-122.301735,37.993584],[-122.301735,37.993584]]}`,
		Lat: ptr(37.993584), Lon: ptr(-122.301735),
	})
	// Two road names; an undefined direction; no road names.
	if e := r.byID["SJ-5721_SB"]; e.Roads != "CAPITOL AVE (southbound); PENITENCIA CREEK RD (southbound)" || e.Headline != "work-zone on CAPITOL AVE, PENITENCIA CREEK RD southbound" {
		t.Errorf("SJ-5721_SB: roads %q headline %q", e.Roads, e.Headline)
	}
	if e := r.byID["CSC-1747426925585"]; e.Roads != "Mesa Road" || e.Headline != "work-zone on Mesa Road" || e.EventSubtypes != "roadway-relocation" || e.Severity != "all-lanes-closed" {
		t.Errorf("CSC-1747426925585: %+v", e)
	}
	if e := r.byID["SJ-5996_SB"]; e.Roads != "" || e.Headline != "work-zone southbound" {
		t.Errorf("SJ-5996_SB: roads %q headline %q", e.Roads, e.Headline)
	}
	// The raw is the whole feature, canonical: keys sorted, no white space.
	want := `{"geometry":{"coordinates":[[-121.8869762,37.3772008],[-121.8853392,37.3788702]],"type":"LineString"},"id":"SJ-5639_NB",` +
		`"properties":{"beginning_cross_street":"FAIRWAY GREEN CR","core_details":{"creation_date":"2025-08-13T00:39:16Z","data_source_id":"SJ-2",` +
		`"description":"Pavement resurfacing","direction":"northbound","event_type":"detour","road_names":["TOWNSEND PARK CL"],"update_date":"2025-10-10T16:15:01Z"},` +
		`"end_date":"2025-11-26T17:25:29Z","end_date_accuracy":"estimated","ending_cross_street":"MAXWELL WY","event_status":"active",` +
		`"start_date":"2025-09-25T17:25:17Z","start_date_accuracy":"estimated"},"type":"Feature"}`
	if e := r.byID["SJ-5639_NB"]; e.Raw != want || e.ContentHash != traffic.Hash([]byte(want)) {
		t.Errorf("raw = %s\nwant  %s", e.Raw, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStreamSpecExamples(t *testing.T) {
	tests := []struct {
		file string
		n    int
		want []traffic.Event
	}{
		{"spec-v4.2-multipoint.geojson", 5, []traffic.Event{
			{
				ID: "af2e3f51-611f-4ce0-9282-2f28ca68e62f", Headline: "work-zone on I-80, I-35 northbound", EventType: "work-zone",
				Severity: "some-lanes-closed", Description: "Single direction work zone without lane-level information.",
				Roads: "I-80 (northbound); I-35 (northbound)", Created: utc("2009-12-31T18:01:01Z"), Updated: utc("2009-12-31T18:01:01Z"),
				StartsAt: utc("2010-01-01T01:00:00Z"), EndsAt: utc("2010-01-02T01:00:00Z"),
				GeometryType: "MultiPoint", Lat: ptr(41.617961698000045), Lon: ptr(-93.776684050999961),
			},
			{
				ID: "6f57aded-7291-462e-9892-607b2b7d116c", Headline: "Project 65773 Event 1", EventType: "work-zone",
				Severity: "some-lanes-closed", EventSubtypes: "surface-work",
				Description: "Single-direction work zone represented by three sequential road events; first event.",
				Roads:       "I-235 (westbound)", Created: utc("2009-12-31T11:56:26Z"), Updated: utc("2009-12-31T11:56:26Z"),
				StartsAt: utc("2010-01-01T14:00:00Z"), EndsAt: utc("2010-01-05T23:00:00Z"),
				GeometryType: "MultiPoint", Lat: ptr(41.593422456000042), Lon: ptr(-93.720409507999989),
			},
		}},
		{"spec-v4.2-recurring-linestring.geojson", 4, []traffic.Event{
			{
				ID: "d63ab07b-98e8-41bd-b4dd-557727320056", Headline: "PLK01012016-Day2", EventType: "work-zone",
				Severity: "all-lanes-open", EventSubtypes: "roadside-work", Description: "Scenario 5: work zone with recurring event (day 2).",
				Roads: "NE 150th Avenue (westbound)", Created: utc("2021-12-29T15:37:57Z"), Updated: utc("2021-12-29T15:37:57Z"),
				StartsAt: utc("2022-01-02T08:00:00Z"), EndsAt: utc("2022-01-02T17:00:00Z"),
				GeometryType: "LineString", Lat: ptr(41.8344297683109), Lon: ptr(-93.46380472183228),
			},
		}},
		{"spec-v3.1-multipoint.geojson", 5, []traffic.Event{
			{
				ID: "71234", Headline: "work-zone on I-80, I-35 northbound", EventType: "work-zone", Severity: "some-lanes-closed", Status: "active",
				Description: "Single direction work zone without lane-level information.", Roads: "I-80, I-35 (northbound)",
				Created: utc("2009-12-31T18:01:01Z"), Updated: utc("2009-12-31T18:01:01Z"),
				StartsAt: utc("2010-01-01T01:00:00Z"), EndsAt: utc("2010-01-02T01:00:00Z"),
				GeometryType: "MultiPoint", Lat: ptr(41.617961698000045), Lon: ptr(-93.776684050999961),
			},
			{
				ID: "65773-1", Headline: "work-zone on I-235 westbound", EventType: "work-zone", Severity: "some-lanes-closed", Status: "active",
				EventSubtypes: "surface-work", Roads: "I-235 (westbound)",
				Description: "Single-direction work zone represented by three sequential road events; first event.",
				Created:     utc("2009-12-31T11:56:26Z"), Updated: utc("2009-12-31T11:56:26Z"),
				StartsAt: utc("2010-01-01T14:00:00Z"), EndsAt: utc("2010-01-05T23:00:00Z"),
				GeometryType: "MultiPoint", Lat: ptr(41.593422456000042), Lon: ptr(-93.720409507999989),
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var log bytes.Buffer
			r, err := stream(t, newFeed(serveFile(t, tt.file), &log), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Received != tt.n || r.Skipped != 0 || len(r.events) != tt.n {
				t.Fatalf("received=%d skipped=%d events=%d, want %d", r.Received, r.Skipped, len(r.events), tt.n)
			}
			if log.Len() != 0 {
				t.Errorf("warnings:\n%s", log.String())
			}
			for _, want := range tt.want {
				got, ok := r.byID[want.ID]
				if !ok {
					t.Fatalf("no event %s", want.ID)
				}
				check(t, got, want)
			}
		})
	}
}

func TestStreamSurvivesQuirks(t *testing.T) {
	var log bytes.Buffer
	r, err := stream(t, newFeed(serveFile(t, "quirks-v4.geojson"), &log), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 12 || r.Skipped != 3 || len(r.events) != 9 {
		t.Fatalf("received=%d skipped=%d events=%d", r.Received, r.Skipped, len(r.events))
	}
	tests := []struct {
		want    traffic.Event
		warning string // in the log, if not empty
	}{
		{traffic.Event{
			ID: "fraction", Headline: "work-zone on I-80 westbound", EventType: "work-zone", Severity: "some-lanes-closed", Roads: "I-80 (westbound)",
			Created: utc("2025-10-09T23:59:59.123Z"), Updated: utc("2025-10-10T07:00:00.1234567Z"),
			StartsAt: utc("2025-10-10T07:00:00.1234567Z"), EndsAt: utc("2025-10-11T14:00:00.5Z"),
			GeometryType: "LineString", Geometry: `{"type":"LineString","coordinates":[[-122.41916000000001,37.7749],[-122.4185,37.7755]]}`,
			Lat: ptr(37.7749), Lon: ptr(-122.41916000000001),
		}, ""},
		{traffic.Event{
			ID: "backwards", Headline: "work-zone on CA-1 northbound", EventType: "work-zone", Roads: "CA-1 (northbound)",
			StartsAt: utc("2025-10-10T07:00:00Z"), EndsAt: utc("2025-10-01T07:00:00Z"), GeometryType: "LineString", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, "feature backwards: end_date 2025-10-01T07:00:00Z is before start_date 2025-10-10T07:00:00Z; both kept as received"},
		{traffic.Event{
			ID: "empty-names", Headline: "work-zone on Main St", EventType: "work-zone", Roads: "Main St",
			StartsAt: utc("2025-10-10T07:00:00Z"), GeometryType: "MultiPoint", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, ""},
		{traffic.Event{
			ID: "no-roads", Headline: "detour", EventType: "detour",
			StartsAt: utc("2025-10-10T07:00:00Z"), GeometryType: "LineString", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, ""},
		{traffic.Event{ // v3 leftovers in a v4 feature: core_details wins, properties fills in
			ID: "leftovers", Headline: "work-zone on US-101 southbound", EventType: "work-zone", Status: "planned",
			Description: "from core_details", Roads: "US-101 (southbound)",
			Created: utc("2025-10-01T00:00:00Z"), Updated: utc("2025-10-02T00:00:00Z"), StartsAt: utc("2025-10-10T07:00:00Z"),
			GeometryType: "LineString", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, ""},
		{traffic.Event{
			ID: "bad-start", Headline: "work-zone on I-5 northbound", EventType: "work-zone", Roads: "I-5 (northbound)",
			EndsAt: utc("2025-10-11T07:00:00Z"), GeometryType: "LineString", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, `feature bad-start: properties.start_date \"next tuesday\" is not a timestamp; stored as NULL`},
		{traffic.Event{ID: "bad-geometry", Headline: "restriction on I-580 eastbound", EventType: "restriction", Roads: "I-580 (eastbound)"},
			`feature bad-geometry: geometry: LineString position [\"a\",\"b\"] is not a valid [lon, lat]; stored as NULL`},
		{traffic.Event{
			ID: "4711", Headline: "work-zone on I-880 inner-loop", EventType: "work-zone", EventSubtypes: "barrier-work; painting",
			Roads: "I-880 (inner-loop)", GeometryType: "LineString", Lat: ptr(37.5), Lon: ptr(-122.5),
		}, ""},
		{traffic.Event{ // WZDx 3.0: road_event_id, road_number and road_name, no event_type
			ID: "v30-road-event", Headline: "work-zone on US 6, Hickman Road eastbound", EventType: "work-zone", Status: "active",
			Roads: "US 6 (eastbound); Hickman Road (eastbound)", StartsAt: utc("2020-01-01T06:00:00Z"), EndsAt: utc("2020-05-01T05:00:00Z"),
			GeometryType: "LineString", Lat: ptr(41.61), Lon: ptr(-93.79),
		}, ""},
	}
	for _, tt := range tests {
		got, ok := r.byID[tt.want.ID]
		if !ok {
			t.Errorf("no event %s", tt.want.ID)
			continue
		}
		check(t, got, tt.want)
		if tt.warning != "" && !strings.Contains(log.String(), tt.warning) {
			t.Errorf("%s: no warning %q in\n%s", tt.want.ID, tt.warning, log.String())
		}
	}
	for _, want := range []string{
		`feature bad-start: core_details.name is a JSON number, not a string; stored as empty`,
		`msg="skipping feature" position=7 reason="event has no id"`,
		`msg="skipping feature" position=8 reason="event has no id"`,
		`msg="skipping feature" position=12 reason="feature is a JSON number, not an object"`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, log.String())
		}
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 7 {
		t.Errorf("%d warnings, want 7:\n%s", n, log.String())
	}
}

func TestStreamSkipsLongIDs(t *testing.T) {
	long := strings.Repeat("x", traffic.MaxIDBytes+1)
	var log bytes.Buffer
	r, err := stream(t, newFeed(serve(t, []byte(`{"type":"FeatureCollection","features":[{"id":"`+long+`"},{"id":"`+long[1:]+`"}]}`)), &log), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 2 || r.Skipped != 1 || len(r.events) != 1 || r.events[0].ID != long[1:] {
		t.Fatalf("%+v", r.Snapshot)
	}
	if !strings.Contains(log.String(), "feature id of 256 bytes is longer than 255") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestStreamCountsDuplicatesAndKeepsBoth(t *testing.T) {
	r, err := stream(t, newFeed(serve(t, []byte(`{"type":"FeatureCollection","features":[
		{"id":"a","properties":{"core_details":{"name":"old"}}},{"id":"b"},{"id":"a","properties":{"core_details":{"name":"new"}}}]}`)), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Received != 3 || r.Duplicates != 1 || len(r.events) != 3 || r.byID["a"].Headline != "new" {
		t.Fatalf("%+v %+v", r.Snapshot, r.events)
	}
}

func TestStreamRejectsWrongDocuments(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"html", "<html><body>Service down</body></html>", "the response is not JSON (an HTML error page or plain text?)"},
		{"empty body", " \n", "the response body is empty"},
		{"feature", `{"type":"Feature","id":"a","properties":{},"geometry":null}`, `the response is a JSON object with type "Feature", not a WZDx FeatureCollection`},
		{"open511", `{"events":[],"pagination":{}}`, `the response is a JSON object with no "features" list; is this a WZDx feed URL?`},
		{"no features", `{"type":"FeatureCollection","feed_info":{}}`, `the response is a JSON object with no "features" list; is this a WZDx feed URL?`},
		{"features null", `{"type":"FeatureCollection","features":null}`, `the response's "features" is null, not a list (an empty WZDx feed has "features": [])`},
		{"features object", `{"type":"FeatureCollection","features":{"id":"a"}}`, `the response's "features" is a JSON object, not a list`},
		{"no type", `{"features":[]}`, `the response has a "features" list but no "type": "FeatureCollection"; is this a WZDx feed URL?`},
		{"array", `[{"type":"Feature"}]`, "the response is a JSON array, not a WZDx FeatureCollection"},
		{"trailing garbage", `{"type":"FeatureCollection","features":[]} <!-- cached -->`, "the response is not valid JSON: something other than white space follows the JSON value, which ends at byte 42"},
		{"second value", `{"type":"FeatureCollection","features":[]}{"type":"FeatureCollection","features":[]}`, "the response is not valid JSON: something other than white space follows the JSON value, which ends at byte 42"},
		{"broken inside", `{"type":"FeatureCollection","features":[{"id":"a",}]}`, "the response is not valid JSON at byte 51: invalid character '}' looking for beginning of object key string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, []byte(tt.body))
			f := newFeed(srv, nil)
			f.Source.Retries = 2
			sunk := false
			_, err := f.Stream(context.Background(), nil, func([]traffic.Event) error { sunk = true; return nil })
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fetch the WZDx document of http://") {
				t.Fatalf("err = %v, want it to end in %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "test-key-0001") {
				t.Errorf("the error shows the key: %v", err)
			}
			if sunk {
				t.Error("sink was called")
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests: a wrong document is not retried", n)
			}
		})
	}
}

func TestStreamEmptyFeed(t *testing.T) {
	r, err := stream(t, newFeed(serve(t, []byte("\xef\xbb\xbf{\"feed_info\":{},\"type\":\"FeatureCollection\",\"features\":[ ]}\n")), nil), nil)
	if err != nil || r.Pages != 1 || r.Received != 0 || len(r.batches) != 0 {
		t.Fatalf("snap=%+v batches=%v err=%v", r.Snapshot, r.batches, err)
	}
}

func TestStreamRetriesTruncatedBody(t *testing.T) {
	full, err := os.ReadFile(testdata + "spec-v4.2-multipoint.geojson")
	if err != nil {
		t.Fatal(err)
	}
	for _, always := range []bool{false, true} {
		srv := serve(t, full)
		var calls atomic.Int32
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if always || calls.Add(1) == 1 {
				w.Write(full[:len(full)/2]) // a body that ends early, with a complete HTTP response
				return true
			}
			return false
		})
		f := newFeed(srv, nil)
		f.Source.Retries = 2
		r, err := stream(t, f, nil)
		if always {
			if !errors.Is(err, source.ErrTruncated) || !strings.HasSuffix(err.Error(), "the response body ended early (truncated) (retried 2 times)") || len(srv.Requests()) != 3 {
				t.Errorf("always truncated: err = %v after %d requests", err, len(srv.Requests()))
			}
			continue
		}
		if err != nil || len(r.events) != 5 || len(srv.Requests()) != 2 {
			t.Errorf("truncated once: %d events, err = %v after %d requests", len(r.events), err, len(srv.Requests()))
		}
	}
}

func TestStreamHandsOnStoredEventsAsIDAndHash(t *testing.T) {
	srv := serveFile(t, "511-mtc-v4.1.json")
	f := newFeed(srv, nil)
	first, err := stream(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, e := range first.events {
		stored[e.ID] = e.ContentHash
	}
	changed := first.events[700].ID
	stored[changed] = "another hash"
	var asked atomic.Int32
	second, err := stream(t, f, func(id, hash string) bool { asked.Add(1); return stored[id] == hash })
	if err != nil {
		t.Fatal(err)
	}
	if int(asked.Load()) != 1186 || len(second.events) != 1186 || !equalInts(second.batches, []int{500, 500, 186}) {
		t.Fatalf("asked %d times, %d events in %v", asked.Load(), len(second.events), second.batches)
	}
	for i, e := range second.events {
		want := first.events[i]
		if e.ID != want.ID || e.ContentHash != want.ContentHash {
			t.Fatalf("event %d: %s %s, want %s %s", i, e.ID, e.ContentHash, want.ID, want.ContentHash)
		}
		if e.ID == changed {
			if e.Raw != want.Raw || e.Headline != want.Headline || e.Geometry != want.Geometry || e.Lat == nil {
				t.Errorf("a changed event lost its content: %+v", e)
			}
			continue
		}
		if e != (traffic.Event{ID: want.ID, ContentHash: want.ContentHash, HashOnly: true}) {
			t.Fatalf("a stored event kept its content: %+v", e)
		}
	}
}

func TestContentHashIgnoresKeyOrderAndSpace(t *testing.T) {
	bodies := []string{
		`{"type":"FeatureCollection","features":[{"id":"a","type":"Feature","properties":{"core_details":{"event_type":"detour","road_names":["I-80"]},"start_date":"2025-10-10T07:00:00Z"},"geometry":{"type":"LineString","coordinates":[[-122.5,37.5],[-122.6,37.60]]}}]}`,
		"{\n \"features\": [ {\n  \"geometry\": {\"coordinates\": [[-122.5, 37.5], [-122.6, 37.60]], \"type\": \"LineString\"},\n  \"properties\": {\"start_date\": \"2025-10-10T07:00:00Z\", \"core_details\": {\"road_names\": [ \"I-80\" ], \"event_type\": \"detour\"}},\n  \"type\": \"Feature\", \"id\": \"a\"\n } ],\n \"type\": \"FeatureCollection\"\n}\n",
		`{"type":"FeatureCollection","features":[{"id":"a","type":"Feature","properties":{"core_details":{"event_type":"detour","road_names":["I-80"]},"start_date":"2025-10-10T07:00:00Z"},"geometry":{"type":"LineString","coordinates":[[-122.5,37.5],[-122.6,37.6]]}}]}`,
	}
	var got []traffic.Event
	for _, b := range bodies {
		r, err := stream(t, newFeed(serve(t, []byte(b)), nil), nil)
		if err != nil || len(r.events) != 1 {
			t.Fatalf("%v %+v", err, r)
		}
		got = append(got, r.events[0])
	}
	if got[0].ContentHash != got[1].ContentHash || got[0].Raw != got[1].Raw {
		t.Errorf("key order or white space changed the content:\n%s\n%s", got[0].Raw, got[1].Raw)
	}
	if got[0].ContentHash == got[2].ContentHash {
		t.Error("a number written differently (37.60, 37.6) kept the hash")
	}
	if got[0].ContentHash != traffic.Hash([]byte(got[0].Raw)) {
		t.Error("the content hash is not the hash of the raw")
	}
}

func TestStreamReadsLocalTimesInTheFeedsZone(t *testing.T) {
	body := []byte(`{"type":"FeatureCollection","features":[{"id":"a","properties":{"start_date":"2025-10-10T07:00:00","end_date":"2025-12-10T07:00:00.25","core_details":{"update_date":"2025-10-10T07:00:00Z"}}}]}`)
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		loc          *time.Location
		starts, ends string
	}{
		{la, "2025-10-10T14:00:00Z", "2025-12-10T15:00:00.25Z"}, // PDT, then PST
		{nil, "2025-10-10T07:00:00Z", "2025-12-10T07:00:00.25Z"},
	}
	for _, tt := range tests {
		f := newFeed(serve(t, body), nil)
		f.Location = tt.loc
		r, err := stream(t, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r.events[0], traffic.Event{ID: "a", Headline: "road event", StartsAt: utc(tt.starts), EndsAt: utc(tt.ends), Updated: utc("2025-10-10T07:00:00Z")})
	}
}

func TestStreamStopsWhenSinkFails(t *testing.T) {
	f := newFeed(serveFile(t, "511-mtc-v4.1.json"), nil)
	boom := errors.New("the store is full")
	calls := 0
	_, err := f.Stream(context.Background(), nil, func([]traffic.Event) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

func TestStreamStopsWhenCancelled(t *testing.T) {
	f := newFeed(serveFile(t, "511-mtc-v4.1.json"), nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("interrupt")
	calls := 0
	_, err := f.Stream(ctx, nil, func([]traffic.Event) error {
		calls++
		cancel(stop)
		return nil
	})
	if !errors.Is(err, stop) || calls > 2 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}
