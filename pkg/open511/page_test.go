package open511

import (
	"encoding/json"
	"testing"
)

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
		gotPage, gotErr := readPage(body)
		if gotErr == nil {
			got = gotPage.decode(nil, nil)()
		}
		wantPage, wantErr := decodePage(body)
		if wantErr == nil {
			want = wantPage.decode(nil, nil)()
		}
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
		if gotPage.next != wantPage.next || len(got) != len(want) {
			t.Fatalf("readPage %v %d events, decodePage %v %d", gotPage, len(got), wantPage, len(want))
		}
		for i := range got {
			if (got[i].err == nil) != (want[i].err == nil) || got[i].ev.ID != want[i].ev.ID || got[i].ev.ContentHash != want[i].ev.ContentHash {
				t.Fatalf("event %d: %+v (%v) vs %+v (%v)", i, got[i].ev.ID, got[i].err, want[i].ev.ID, want[i].err)
			}
		}
	})
}
