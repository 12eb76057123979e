package traffic

import (
	"testing"

	"github.com/valyala/fastjson"
)

// TestCanonicalCleansKeysBeforeSorting: keys are made valid text before
// they are sorted and compared, so the output has each key once (the
// feed's last, as encoding/json and jsonb keep it), in order, and is its
// own canonical form.
func TestCanonicalCleansKeysBeforeSorting(t *testing.T) {
	for in, want := range map[string]string{
		`{"k\u0000":1,"k":2}`:                    `{"k":2}`,
		`{"k":2,"k\u0000":1}`:                    `{"k":1}`,
		"{\"\xffa\":1,\"\xfea\":2}":              "{\"\uFFFDa\":2}",
		`{"\u0000z":1,"a":2}`:                    `{"a":2,"z":1}`,
		`{"o":{"b\u0000":1,"b":[{"\u0000":0}]}}`: `{"o":{"b":[{"":0}]}}`,
	} {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%q) = %s (%v), want %s", in, got, err, want)
			continue
		}
		if again, _ := Canonical(got); string(again) != string(got) {
			t.Errorf("Canonical(%s) = %s: not its own canonical form", got, again)
		}
	}
}

// TestAppendCanonicalLeavesTheObjectAsRawHasIt: after canonicalising, a
// field is read under its cleaned key, and of a repeated key the last is
// read, as raw has them, nested objects too.
func TestAppendCanonicalLeavesTheObjectAsRawHasIt(t *testing.T) {
	for in, want := range map[string]string{
		`{"head\u0000line":"A"}`:                      "A",
		`{"headline":"A","headline":"B"}`:             "B",
		`{"headline":"A","head\u0000line":"B"}`:       "B",
		`{"head\u0000line":"A","headline":"B","x":1}`: "B",
		`{"x":{"o":{"head\u0000line":"A"}}}`:          "A",
	} {
		var p fastjson.Parser
		v, err := p.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		var sc Scratch
		raw, err := sc.AppendCanonical(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		obj := v
		if o := v.Get("x", "o"); o != nil {
			obj = o
		}
		if got := string(obj.GetStringBytes("headline")); got != want {
			t.Errorf("%s: headline %q after canonicalising to %s, want %q", in, got, raw, want)
		}
		if again := v.String(); again != string(raw) {
			if c, _ := Canonical([]byte(again)); string(c) != string(raw) {
				t.Errorf("%s: the object is now %s, its canonical form %s", in, again, raw)
			}
		}
	}
}
