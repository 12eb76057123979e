package wzdx

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadDocument: no body, however broken, makes the document reader or
// the feature decoder panic; the features it finds are those encoding/json
// finds, and every event handed on has an id and a raw that is JSON.
func FuzzReadDocument(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/wzdx/*.*json")
	if len(files) == 0 {
		f.Fatal("no fixtures found")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		// Large inputs make the fuzzer crawl (it minimises what it finds).
		if len(b) < 16<<10 {
			f.Add(b)
		}
		f.Add(b[:min(len(b)/3, 8<<10)])
	}
	for _, s := range []string{
		`{"type":"FeatureCollection","features":[{"id":"a\"\\","properties":{"core_details":"x"}},{"id":1e2},[],null]}`,
		`{"type":"FeatureCollection","features":[],"features":[{"id":"b"}]}`,
		`{"type":"Feature\u0043ollection","feat\u0075res":[{"id":"c","geometry":{"type":"Point","coordinates":[1,2]}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := readDocument(body)
		if err != nil {
			return
		}
		var doc map[string]json.RawMessage
		var want []json.RawMessage
		if json.Unmarshal(body, &doc) != nil || json.Unmarshal(doc["features"], &want) != nil {
			return // a body fastjson takes and encoding/json does not: nothing to compare with
		}
		if len(list) != len(want) {
			t.Fatalf("%d features, encoding/json finds %d", len(list), len(want))
		}
		d := decoder{p: parsers.Get()}
		defer parsers.Put(d.p)
		for i, obj := range list {
			if !bytes.Equal(bytes.TrimSpace(obj), bytes.TrimSpace(want[i])) {
				t.Fatalf("feature %d is %q, encoding/json has %q", i, obj, want[i])
			}
			e, _, err := d.decode(obj, nil)
			if err != nil {
				continue
			}
			if e.ID == "" || !json.Valid([]byte(e.Raw)) {
				t.Fatalf("event %+v", e)
			}
		}
	})
}
