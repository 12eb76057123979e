package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
)

// An event nested 400 deep (valid JSON) is skipped as "nested deeper than
// 300 levels", not as "not valid JSON" with 14 KB of fastjson's message,
// and no log line is much longer than 1 KB, also when a warning quotes a
// 5,000-byte field; in both formats.
func TestDeepEventsAndLongWarningsMakeShortLogLines(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 400) + strings.Repeat("]", 400)
	long := strings.Repeat("not a time ", 500)
	bodies := map[string]string{
		"open511": `{"events":[{"id":"deep","x":` + deep + `},{"id":"long","headline":"h","created":"` + long + `"}],"pagination":{"next_url":null}}`,
		"wzdx": `{"type":"FeatureCollection","features":[{"type":"Feature","id":"deep","properties":{"x":` + deep + `}},` +
			`{"type":"Feature","id":"long","properties":{"core_details":{"event_type":"work-zone","creation_date":"` + long + `"}},"geometry":null}]}`,
	}
	for _, format := range []string{"open511", "wzdx"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			srv, settings := feed(t, dbtest.SQLite(t))
			if err := srv.SetBodies([]byte(bodies[format])); err != nil {
				t.Fatal(err)
			}
			cfg := configFile(t, with(settings, map[string]string{"source.format": format}))
			for _, logFormat := range []string{"text", "json"} {
				code, _, stderr := run(t, time.Now(), "--config", cfg, "--log-format", logFormat, "fetch")
				if code != 0 {
					t.Fatalf("fetch exited %d:\n%s", code, stderr)
				}
				if !strings.Contains(stderr, "is nested deeper than 300 levels") {
					t.Errorf("%s log does not say the event is nested too deep:\n%.2000s", logFormat, stderr)
				}
				for _, line := range strings.Split(stderr, "\n") {
					if len(line) > 1300 {
						t.Errorf("%s log line of %d bytes: %.300s…", logFormat, len(line), line)
					}
				}
			}
		})
	}
}
