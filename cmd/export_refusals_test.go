package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
)

// TestExportOfAnUnknownFeedNamesTheFeeds: --feed with a name that is
// neither configured nor in the database exits 2 naming both kinds, as
// status does, instead of writing a header and nothing else.
func TestExportOfAnUnknownFeedNamesTheFeeds(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		srv := feedtest.New()
		defer srv.Close()
		srv.SetEvents(snapshotOf(1, 2), 10)
		old := feedsConfig(t, srv.URL(), map[string]string{"retired": srv.URL()}, "")
		if code, _, errOut := run(t, time.Now(), "fetch", "--config", old, "--database-url", dbURL); code != 0 {
			t.Fatalf("fetch: exit %d: %s", code, errOut)
		}
		cfg := feedsConfig(t, srv.URL(), map[string]string{"bay": srv.URL()}, "")
		code, out, errOut := run(t, time.Now(), "export", "--feed", "bay,typo", "--config", cfg, "--database-url", dbURL)
		if code != ExitUsage || !strings.Contains(errOut, `no feed named "typo"; the feeds are bay, retired`) || out != "" {
			t.Fatalf("export --feed typo: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, errOut = run(t, time.Now(), "export", "--feed", "retired", "--config", cfg, "--database-url", dbURL)
		if code != 0 || strings.Count(out, "\n") != 3 {
			t.Fatalf("export --feed retired: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}
