package open511

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
)

// FuzzFastCanonicalMatchesReference: the fast canonical form is byte for
// byte the reference one (decode into maps, encode again), and the wire
// fields read from the subset equal those read from the whole object, for
// any input the fast path accepts. Its seeds run with go test.
func FuzzFastCanonicalMatchesReference(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
	}
	for _, e := range feedtest.GenerateEvents(20, 9) {
		f.Add([]byte(e))
	}
	for _, s := range []string{
		`{"b":1,"a":2,"a":3}`, `{"a!":1,"a":2,"a ":3}`, `{"x":"caf\u00e9","é":"\ud83d\ude00","y":"a\/b<>&"}`,
		`{"k":"\u2028"}`, "{\"k\":\"\xff\"}", `{"n":[-0,1.50,1e+10,2E-3,0.0]}`, `{"n":01}`, `{"n":1.}`, `{"n":-}`,
		`[1,[2,{"b":{},"a":[]}]]`, `{"a":1} x`, `{"a":tru}`, `{"Headline":"x","HEADLINE":"y","id":"i/1"}`,
		`{"id":"a/1","\u0068eadline":"esc"}`, `{"id":"a/1","headline":5}`, `  {"a" : [ 1 , 2 ] }  `, `{}`, `"s"`, `{"a":{"c":1,"b":2},"a":{"z":0}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, top, ok := fastCanonical(in, []member{})
		if !ok {
			return
		}
		want, err := canonicalReference(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fast %s\nwant %s (%v)", got, want, err)
		}
		if got[0] != '{' {
			return
		}
		var whole, part wireEvent
		errWhole := json.Unmarshal(in, &whole)
		subset, geography := wireSubset(in, top)
		errPart := json.Unmarshal(subset, &part)
		if geography != nil {
			part.Geography = geography
		}
		if (errWhole == nil) != (errPart == nil) || (errWhole != nil && errWhole.Error() != errPart.Error()) {
			t.Fatalf("errors differ: %v vs %v", errWhole, errPart)
		}
		if errWhole == nil && !reflect.DeepEqual(whole, part) {
			t.Fatalf("fields differ: %+v vs %+v", whole, part)
		}
	})
}

// FuzzSplitPageMatchesDecodePage: whatever body the one-pass splitter
// accepts, the streaming decoder reads to the same events and pagination.
func FuzzSplitPageMatchesDecodePage(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, s := range []string{
		`{"events":null}`, `{"events":[],"pagination":{"next_url":"/x?offset=5"}}`, `{"events":[1,"a",{"id":"\u0041"}],"events":[null]}`,
		`{"pagination":5,"events":[]}`, `{"events":[]} x`, `{"events":[],}`, `{"meta":{"a":[1e5,-0.5,true]},"events":[{}]}`, `{"events":[01]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, events, ok := splitPage(body)
		if !ok {
			return
		}
		var want []json.RawMessage
		wantPage, err := decodePage(bytes.NewReader(body), func(obj json.RawMessage) { want = append(want, obj) })
		if err != nil {
			t.Fatalf("split accepted what decodePage rejects: %v", err)
		}
		if page != wantPage || len(events) != len(want) {
			t.Fatalf("split %v %d events, decodePage %v %d", page, len(events), wantPage, len(want))
		}
		for i := range events {
			if !bytes.Equal(events[i], want[i]) {
				t.Fatalf("event %d: %s vs %s", i, events[i], want[i])
			}
		}
	})
}
