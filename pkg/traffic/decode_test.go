package traffic

import (
	"encoding/json"
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
		got, err := ParseTime(tt.in, nil)
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

// FuzzParseTime: never panics, and what parses is in UTC.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2023-05-31T13:17Z", "2021-05-07T17:31:08-07:00", "2021-05-10T07:00", "", "2023-13-45T99:99Z", "2023-05-31T13:17:00.123456789+14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := ParseTime(s, nil); err == nil && tm.Location().String() != "UTC" {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, tm)
		}
	})
}

// FuzzDecodeGeometry: never panics; what decodes has a position in range.
func FuzzDecodeGeometry(f *testing.F) {
	for _, s := range []string{
		`{"type":"Point","coordinates":[-122.1,37.5]}`,
		`{"type":"LineString","coordinates":[[-122.1,37.5],[-122.2,37.6]]}`,
		`{"type":"MultiPolygon","coordinates":[[[[-1,2],[3,4],[5,6],[-1,2]]]]}`,
		`{"type":"Polygon","coordinates":[]}`, `{"type":"Point"}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeGeometry(b)
		if err != nil {
			return
		}
		if g.Lat == nil || *g.Lat < -90 || *g.Lat > 90 || *g.Lon < -180 || *g.Lon > 180 || !json.Valid([]byte(g.JSON)) {
			t.Fatalf("DecodeGeometry(%s) = %+v", b, g)
		}
	})
}
