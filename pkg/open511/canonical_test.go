package open511

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
)

// canonicalReference is the definition Canonical must meet: decode into a
// tree of maps (numbers kept as written) and encode again, keys sorted,
// without HTML escaping.
func canonicalReference(obj []byte) ([]byte, error) {
	if !json.Valid(obj) {
		return nil, &json.SyntaxError{}
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var canonicalSeeds = []string{
	`{"b":1,"a":2,"a":3}`, `{"a!":1,"a":2,"a ":3}`, `{"x":"caf\u00e9","é":"\ud83d\ude00","y":"a\/b<>&"}`,
	`{"k":"\u2028"}`, "{\"k\":\"\xff\"}", `{"n":[-0,1.50,1e+10,2E-3,0.0]}`, `{"n":01}`, `{"n":1.}`, `{"n":-}`,
	`[1,[2,{"b":{},"a":[]}]]`, `{"a":1} x`, `{"a":tru}`, `{"n":NaN}`, `{"n":Inf}`, `{"id":"a/1","\u0068eadline":"esc"}`,
	`  {"a" : [ 1 , 2 ] }  `, `{}`, `"s"`, `{"a":{"c":1,"b":2},"a":{"z":0}}`, `{"t":"tab\there","q":"\"quoted\""}`,
}

// FuzzCanonicalMatchesReference: wherever the reference gives a result,
// Canonical gives the same bytes.
func FuzzCanonicalMatchesReference(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
	}
	for _, e := range feedtest.GenerateEvents(20, 9) {
		f.Add([]byte(e))
	}
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, err := canonicalReference(in)
		if err != nil {
			return
		}
		got, err := Canonical(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q)\n = %s (%v)\nwant %s", in, got, err, want)
		}
	})
}

// FuzzReadPageMatchesDecodePage: the one-go page reader and the streaming
// decoder agree on every body: the same events, pagination and failure.
func FuzzReadPageMatchesDecodePage(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, s := range []string{
		`{"events":null}`, `{"events":[],"pagination":{"next_url":"/x?offset=5"}}`, `{"events":[1,"a",{"id":"\u0041"}],"events":[null]}`,
		`{"pagination":5,"events":[]}`, `{"events":[]} x`, `{"events":[],}`, `{"meta":{"a":[1e5,-0.5,true]},"events":[{}]}`,
		`{"events":[01]}`, `{"events":[],"pagination":{"next_url":7}}`, `{"events":"x"}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want []decoded
		gotPage, gotErr := readPage(bytes.NewReader(body))
		if gotErr == nil {
			gotPage.decode(nil, func(d decoded) { got = append(got, d) })
		}
		wantPage, wantErr := decodePage(bytes.NewReader(body), func(d decoded) { want = append(want, d) })
		if wantErr != nil {
			if gotErr == nil {
				// fastjson is more lenient than encoding/json about a few
				// malformed bodies; what it reads must still be sound.
				for _, d := range got {
					if d.err == nil && !json.Valid([]byte(d.ev.Raw)) {
						t.Fatalf("accepted an event whose raw is not JSON: %s", d.ev.Raw)
					}
				}
			}
			return
		}
		if gotErr != nil {
			t.Fatalf("readPage failed where decodePage read the page: %v", gotErr)
		}
		if gotPage.Pagination != wantPage.Pagination || len(got) != len(want) {
			t.Fatalf("readPage %v %d events, decodePage %v %d", gotPage, len(got), wantPage, len(want))
		}
		for i := range got {
			if (got[i].err == nil) != (want[i].err == nil) || got[i].ev.ID != want[i].ev.ID || got[i].ev.ContentHash != want[i].ev.ContentHash {
				t.Fatalf("event %d: %+v (%v) vs %+v (%v)", i, got[i].ev.ID, got[i].err, want[i].ev.ID, want[i].err)
			}
		}
	})
}
