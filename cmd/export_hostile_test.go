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

// TestExportUntilTheLastDayExportsEverything: --until 9999-12-31 means the
// start of year 10000, which SQLite, comparing times as text, used to put
// before every stored time; both databases export every row.
func TestExportUntilTheLastDayExportsEverything(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		srv, settings := feed(t, dbURL)
		srv.SetEvents(snapshotOf(1, 2, 3), 10)
		cfg := configFile(t, settings)
		if code, _, errOut := run(t, time.Now(), "fetch", "--config", cfg); code != 0 {
			t.Fatalf("fetch: exit %d: %s", code, errOut)
		}
		for _, table := range []string{"events", "versions", "runs", "snapshots", "lifetimes"} {
			_, all, _ := run(t, time.Now(), "export", "--table", table, "--config", cfg)
			code, out, errOut := run(t, time.Now(), "export", "--table", table, "--until", "9999-12-31", "--config", cfg)
			if code != 0 || out != all || strings.Count(out, "\n") < 2 {
				t.Errorf("export --table %s --until 9999-12-31: exit %d, %s\n%q, want\n%q", table, code, errOut, out, all)
			}
		}
	})
}
