package collect_test

import (
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// A lone UTF-16 surrogate escape ("a\ud800b") is stored as U+FFFD, as
// other invalid text is, in the typed columns and raw (strings and keys),
// on both databases and in both formats; it was stored as the six
// characters \ud800. A pair stays the character it encodes, and an
// escaped backslash before "ud800" stays text.
func TestLoneSurrogatesAreStoredAsReplacementCharacters(t *testing.T) {
	t.Parallel()
	const text = `a\ud800b \udc00\u0041 \ud83d\ude00 \ud83d\ud83d\ude00 \\ud800`
	const want = "a\uFFFDb \uFFFDA 😀 \uFFFD😀 \\ud800"
	open511Page := `{"events":[{"id":"o1","headline":"` + text + `","extra":{"k\udfff":"` + text + `"}}],"pagination":{"next_url":null}}`
	wzdxDoc := `{"type":"FeatureCollection","features":[{"type":"Feature","id":"w1",
 "properties":{"core_details":{"event_type":"work-zone","description":"` + text + `","k\udfff":1}},"geometry":{"type":"Point","coordinates":[1,2]}}]}`
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		for _, format := range []string{"open511", "wzdx"} {
			h := newHarness(t, dbURL)
			body := map[string]string{"open511": open511Page, "wzdx": wzdxDoc}[format]
			if _, err := h.runFormat(format, body, false); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			n := 0
			err := h.st.Events(ctx, store.Filter{Feeds: []string{format}, WithRaw: true}, func(e *store.Event) error {
				n++
				typed := e.Headline
				if format == "wzdx" {
					typed = e.Description
				}
				if typed != want {
					t.Errorf("%s: typed column %q, want %q", format, typed, want)
				}
				c, err := traffic.Canonical([]byte(e.Raw)) // PostgreSQL's jsonb spaces it out
				if err != nil {
					t.Fatal(err)
				}
				raw := string(c)
				if !strings.Contains(raw, `"`+strings.ReplaceAll(want, `\`, `\\`)+`"`) || !strings.Contains(raw, "\"k\uFFFD\"") {
					t.Errorf("%s: raw %s, want the text as %q and the key as k\uFFFD", format, raw, want)
				}
				return nil
			})
			if err != nil || n != 1 {
				t.Fatalf("%s: %d events, %v", format, n, err)
			}
		}
	})
}
