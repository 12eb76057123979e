package open511

import (
	"testing"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

func TestDecodeEventBadFieldsBecomeNull(t *testing.T) {
	e, warnings, err := DecodeEvent([]byte(`{"id":"x/1","created":"soon","geography":{"type":"Point","coordinates":["a","b"]},"+extra":{"k":1}}`), nil)
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
	decode := func(obj string) traffic.Event {
		t.Helper()
		e, _, err := DecodeEvent([]byte(obj), nil)
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
		if _, _, err := DecodeEvent([]byte(in), nil); err == nil {
			t.Errorf("DecodeEvent(%s) accepted an event without an id", in)
		}
	}
}
