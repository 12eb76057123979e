package open511

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2023-05-31T13:17Z", time.Date(2023, 5, 31, 13, 17, 0, 0, time.UTC), true},
		{"2021-05-07T17:31:08-07:00", time.Date(2021, 5, 8, 0, 31, 8, 0, time.UTC), true},
		{"2021-05-07T17:31-07:00", time.Date(2021, 5, 8, 0, 31, 0, 0, time.UTC), true},
		{"2023-05-31T13:17:05.5Z", time.Date(2023, 5, 31, 13, 17, 5, 5e8, time.UTC), true},
		{"yesterday", time.Time{}, false},
		{"2023-05-31", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) || (tt.ok && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestDecodeGeometryFirstVertex(t *testing.T) {
	tests := []struct {
		in       string
		lat, lon float64
		ok       bool
	}{
		{`{"type":"Point","coordinates":[-122.1,37.5]}`, 37.5, -122.1, true},
		{`{"type":"LineString","coordinates":[[-122.1,37.5],[-122.2,37.6]]}`, 37.5, -122.1, true},
		{`{"type":"MultiPoint","coordinates":[[-1,2],[3,4]]}`, 2, -1, true},
		{`{"type":"MultiLineString","coordinates":[[[-1,2],[3,4]]]}`, 2, -1, true},
		{`{"type":"Polygon","coordinates":[[[-1,2],[3,4],[5,6],[-1,2]]]}`, 2, -1, true},
		{`{"type":"MultiPolygon","coordinates":[[[[-1,2],[3,4],[5,6],[-1,2]]]]}`, 2, -1, true},
		{`{"type":"Point","coordinates":[37.5,-222.1]}`, 0, 0, false},
		{`{"type":"Point","coordinates":[]}`, 0, 0, false},
		{`{"type":"LineString","coordinates":[]}`, 0, 0, false},
		{`{"type":"Circle","coordinates":[1,2]}`, 0, 0, false},
		{`"nope"`, 0, 0, false},
	}
	for _, tt := range tests {
		g, err := DecodeGeometry([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("DecodeGeometry(%s) err = %v", tt.in, err)
			continue
		}
		if tt.ok && (*g.Lat != tt.lat || *g.Lon != tt.lon) {
			t.Errorf("DecodeGeometry(%s) = lat %v lon %v", tt.in, *g.Lat, *g.Lon)
		}
	}
}

func TestDecodeEventBadFieldsBecomeNull(t *testing.T) {
	e, warnings, err := DecodeEvent([]byte(`{"id":"x/1","created":"soon","geography":{"type":"Point","coordinates":["a","b"]},"+extra":{"k":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Created != nil || e.Lat != nil || e.Geometry != "" || len(warnings) != 2 {
		t.Fatalf("event %+v warnings %q", e, warnings)
	}
	if string(e.Raw) != `{"+extra":{"k":1},"created":"soon","geography":{"coordinates":["a","b"],"type":"Point"},"id":"x/1"}` {
		t.Fatalf("raw = %s", e.Raw)
	}
}

func TestContentHashIgnoresKeyOrderAndSpace(t *testing.T) {
	decode := func(obj string) Event {
		t.Helper()
		e, _, err := DecodeEvent([]byte(obj))
		if err != nil || e.ContentHash == "" {
			t.Fatalf("DecodeEvent(%s): hash %q, err %v", obj, e.ContentHash, err)
		}
		return e
	}
	a := decode(`{"id":"x/1","headline":"A","n":1.50}`)
	b := decode("{ \"n\": 1.50,\n \"headline\": \"A\", \"id\": \"x/1\" }")
	c := decode(`{"id":"x/1","headline":"B","n":1.50}`)
	if a.ContentHash != b.ContentHash {
		t.Fatal("key order or white space changed the hash")
	}
	if a.ContentHash == c.ContentHash {
		t.Fatal("a changed headline kept the hash")
	}
}

func TestDecodeEventWithoutID(t *testing.T) {
	for _, in := range []string{`{"headline":"x"}`, `{"id":""}`, `{"id":12}`, `[1]`} {
		if _, _, err := DecodeEvent([]byte(in)); err == nil {
			t.Errorf("DecodeEvent(%s) accepted an event without an id", in)
		}
	}
}
