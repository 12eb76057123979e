package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
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
	v = withoutNUL(v)
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
		if errors.Is(err, errNumberRange) {
			return // valid JSON that PostgreSQL's jsonb cannot hold
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q)\n = %s (%v)\nwant %s", in, got, err, want)
		}
	})
}

// withoutNUL removes NUL from every string and key, as CleanText does.
func withoutNUL(v any) any {
	clean := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	switch v := v.(type) {
	case string:
		return clean(v)
	case []any:
		for i := range v {
			v[i] = withoutNUL(v[i])
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[clean(k)] = withoutNUL(x)
		}
		return out
	}
	return v
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "a\x00b": "ab", "caf\xe9": "caf\uFFFD", "\xff\x00\xfe": "\uFFFD\uFFFD", "日本": "日本"} {
		if got := CleanText([]byte(in)); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
