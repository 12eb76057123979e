package traffic

import (
	"encoding/json"
	"fmt"
	"strings"
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
		v, err := Parse(&p, "event", []byte(`{"s":`+s+`}`))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := string(v.GetStringBytes("s")); got != want {
			t.Errorf("%s read as %q, want %q", s, got, want)
		}
	}
}

// An event nested deeper than fastjson reads is said to be so, in a short
// sentence; fastjson's own message named every level (14 KB at 400).
func TestParseSaysAnEventIsNestedTooDeep(t *testing.T) {
	deep := `{"id":"deep","x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`
	var p fastjson.Parser
	_, err := Parse(&p, "feature", []byte(deep))
	if err == nil || err.Error() != "feature is nested deeper than 300 levels" {
		t.Errorf("err = %v, want: feature is nested deeper than 300 levels", err)
	}
	_, err = Parse(&p, "event", []byte(`{"id":"bad","x":[`+strings.Repeat(`"long text",`, 1000)+`}`))
	if err == nil || !strings.HasPrefix(err.Error(), "event is not valid JSON: ") || len(err.Error()) > 300 {
		t.Errorf("err = %v (%d bytes), want a short one", err, len(fmt.Sprint(err)))
	}
}

// Valid JSON that is not an object is not an event, and the error says
// what it is.
func TestParseSaysAnEventIsNotAnObject(t *testing.T) {
	var p fastjson.Parser
	_, err := Parse(&p, "feature", []byte(`[1]`))
	if err == nil || err.Error() != "feature is a JSON array, not an object" {
		t.Errorf("err = %v, want: feature is a JSON array, not an object", err)
	}
}
