package traffic

import (
	"slices"
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
// read, as raw has them, nested objects too; each object holds its
// cleaned keys once each, sorted.
func TestAppendCanonicalLeavesTheObjectAsRawHasIt(t *testing.T) {
	for in, want := range map[string]struct {
		headline string
		keys     []string // of every object, depth first, as paths
	}{
		`{"head\u0000line":"A"}`:                      {"A", []string{"headline"}},
		`{"headline":"A","headline":"B"}`:             {"B", []string{"headline"}},
		`{"headline":"A","head\u0000line":"B"}`:       {"B", []string{"headline"}},
		`{"head\u0000line":"A","headline":"B","x":1}`: {"B", []string{"headline", "x"}},
		`{"x":{"o":{"head\u0000line":"A"}}}`:          {"A", []string{"x", "x.o", "x.o.headline"}},
		`{"z\u0000":1,"\u0000a":{"b":1,"b\u0000":2}}`: {"", []string{"a", "a.b", "z"}},
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
		if got := string(obj.GetStringBytes("headline")); got != want.headline {
			t.Errorf("%s: headline %q after canonicalising to %s, want %q", in, got, raw, want.headline)
		}
		var keys []string
		var walk func(prefix string, o *fastjson.Object)
		walk = func(prefix string, o *fastjson.Object) {
			o.Visit(func(k []byte, v *fastjson.Value) {
				keys = append(keys, prefix+string(k))
				if v.Type() == fastjson.TypeObject {
					walk(prefix+string(k)+".", v.GetObject())
				}
			})
		}
		walk("", v.GetObject())
		if !slices.Equal(keys, want.keys) {
			t.Errorf("%s: the object's keys are %q after canonicalising to %s, want %q", in, keys, raw, want.keys)
		}
	}
}
