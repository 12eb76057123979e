package open511

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Seeds for the fuzzers: every fixture body, and pieces of them.
func fixtureBodies(f *testing.F) [][]byte {
	f.Helper()
	files, _ := filepath.Glob("../../testdata/*/*.json")
	if len(files) == 0 {
		f.Fatal("no fixtures found")
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodePage: no body, however broken, makes the page decoder panic,
// and every event it hands on is one JSON value.
func FuzzDecodePage(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("\xef\xbb\xbf{\"events\":null}"))
	f.Add([]byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := readPage(body)
		if err != nil {
			return
		}
		for _, d := range page.decode(nil, nil)() {
			if d.err == nil && !json.Valid([]byte(d.ev.Raw)) {
				t.Fatalf("an event's raw is not JSON: %q", d.ev.Raw)
			}
		}
	})
}

// FuzzDecodeEvent: any object decodes or is skipped, never panics; a
// decoded event has an id, valid coordinates and a canonical raw that
// canonicalises to itself.
func FuzzDecodeEvent(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		var env struct{ Events []json.RawMessage }
		if json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &env) == nil {
			for _, e := range env.Events {
				f.Add([]byte(e))
			}
		}
		var list []json.RawMessage
		if json.Unmarshal(b, &list) == nil && len(list) > 0 {
			f.Add([]byte(list[0]))
		}
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		e, _, err := DecodeEvent(obj, nil)
		if err != nil {
			return
		}
		if e.ID == "" || e.ContentHash == "" {
			t.Fatalf("decoded event without id or hash: %+v", e)
		}
		if (e.Lat == nil) != (e.Lon == nil) || (e.Lat != nil && (*e.Lat < -90 || *e.Lat > 90 || *e.Lon < -180 || *e.Lon > 180)) {
			t.Fatalf("bad position %v %v", e.Lat, e.Lon)
		}
		again, err := traffic.Canonical([]byte(e.Raw))
		if err != nil || string(again) != e.Raw {
			t.Fatalf("raw is not canonical: %s vs %s (%v)", e.Raw, again, err)
		}
		if e.Geometry != "" && !json.Valid([]byte(e.Geometry)) {
			t.Fatalf("geometry is not JSON: %s", e.Geometry)
		}
	})
}
