package traffic

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fastjson"
)

// Parse reads every string as encoding/json does: each lone surrogate
// escape is U+FFFD, pairs are their character, other escapes unchanged.
func TestParseReadsLoneSurrogatesAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{
		`"a\ud800b"`, `"\udfff"`, `"\ud800"`, `"\ud800\ud800"`, `"\ud800\u0041"`, `"\udc00\u0041"`,
		`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d\ud83d\ude00"`, `"\\ud800"`, `"\\\ud800"`, `"\"\ud800"`,
		`"x\ud800"`, `"\ud800\"` + `"`, `"\u00e9\ud800\/"`, `"\ud800\n"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var p fastjson.Parser
		v, err := Parse(&p, []byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := string(v.GetStringBytes()); got != want {
			t.Errorf("%s read as %q, want %q", s, got, want)
		}
	}
}
