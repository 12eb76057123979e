package cmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestExportOfAnUnknownFeedNamesTheFeeds: --feed with a name that is
// neither configured nor in the database exits 2 naming both kinds, as
// status does, instead of writing a header (or an empty report) and
// nothing else.
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
		// The report checks its --feed the same way, before writing anything.
		html := filepath.Join(t.TempDir(), "report.html")
		code, out, errOut = run(t, time.Now(), "report", "--feed", "typo,bay", "-o", html, "--config", cfg, "--database-url", dbURL)
		if _, err := os.Stat(html); code != ExitUsage || !strings.Contains(errOut, `no feed named "typo"; the feeds are bay, retired`) || out != "" || err == nil {
			t.Fatalf("report --feed typo: exit %d, stdout %q, stderr %q, file written: %v", code, out, errOut, err == nil)
		}
		code, out, errOut = run(t, time.Now(), "report", "--feed", "retired", "-o", "-", "--config", cfg, "--database-url", dbURL)
		if code != 0 || !strings.Contains(out, `"feeds":["retired"]`) {
			t.Fatalf("report --feed retired: exit %d, stderr %q", code, errOut)
		}
	})
}

// TestExportUntilTheLastDayExportsEverything: --until 9999-12-31 means the
// start of year 10000, which SQLite, comparing times as text, would put
// before every stored time; both databases export every row.
func TestExportUntilTheLastDayExportsEverything(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		cfg := fetched(t, dbURL)
		for _, table := range []string{"events", "versions", "runs", "snapshots", "lifetimes"} {
			_, all, _ := run(t, time.Now(), "export", "--table", table, "--config", cfg)
			code, out, errOut := run(t, time.Now(), "export", "--table", table, "--until", "9999-12-31", "--config", cfg)
			if code != 0 || out != all || strings.Count(out, "\n") < 2 {
				t.Errorf("export --table %s --until 9999-12-31: exit %d, %s\n%q, want\n%q", table, code, errOut, out, all)
			}
		}
	})
}

// TestExportEndsAtSIGTERMAndSIGINT: a counts export (computed, not read,
// so no database driver notices the signal) stops at SIGTERM with exit
// status 143 and at SIGINT with 130. Its stdout is a pipe read slowly, so
// the export is still writing when the signal comes.
func TestExportEndsAtSIGTERMAndSIGINT(t *testing.T) {
	// Not parallel, as the other process tests: a child forked while an
	// in-process run holds a feed's lock file holds it too until it execs.
	dbURL := dbtest.SQLite(t)
	fetched(t, dbURL)
	for sig, want := range map[syscall.Signal]int{syscall.SIGTERM: 143, syscall.SIGINT: ExitInterrupted} {
		c, out, stderr := countsExportUnderWay(t, dbURL)
		c.Process.Signal(sig)
		rest, _ := io.Copy(io.Discard, out)
		if code := exitCode(c.Wait()); code != want || rest > 10<<20 {
			t.Errorf("%v: exit %d after %d more bytes, want %d before the end; stderr: %s", sig, code, rest, want, stderr)
		}
	}
}

// TestCountsRefuseASeriesTooLong: counts of more than store.MaxIntervals
// intervals per feed exit 2 naming the flags that set the range, before
// writing anything.
func TestCountsRefuseASeriesTooLong(t *testing.T) {
	t.Parallel()
	cfg := fetched(t, dbtest.SQLite(t))
	// One interval too many (not 1970 on, which without the limit would
	// write for an hour).
	since := time.Now().UTC().Truncate(time.Second).Add(-store.MaxIntervals * time.Second)
	until := since.Add((store.MaxIntervals + 1) * time.Second)
	code, out, errOut := run(t, time.Now(), "export", "--table", "counts", "--every", "1s", "--config", cfg,
		"--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339))
	want := fmt.Sprintf("would be %d intervals of 1s, more than the %d an export may have: give a longer --every, or a shorter range with --since and --until\n", store.MaxIntervals+1, store.MaxIntervals)
	if code != ExitUsage || out != "" || !strings.HasSuffix(errOut, want) {
		t.Fatalf("exit %d, %d bytes on stdout, stderr %q; want exit 2 and %q", code, len(out), errOut, want)
	}
}

// fetched fetches three events into the database at dbURL and returns the
// config file that names it.
func fetched(t *testing.T, dbURL string) (config string) {
	t.Helper()
	srv, settings := feed(t, dbURL)
	srv.SetEvents(snapshotOf(1, 2, 3), 10)
	config = configFile(t, settings)
	if code, _, errOut := run(t, time.Now(), "fetch", "--config", config); code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, errOut)
	}
	return config
}

// TestExportEndsAtSIGTERMWhenItsReaderStalls: an export blocked writing to
// a pipe nobody reads any more still ends at SIGTERM with exit status 143
// (pkg/export's TestCancelledExportDoesNotWaitForItsReader shows the same
// of a FIFO nobody opens, without depending on when the signal comes).
func TestExportEndsAtSIGTERMWhenItsReaderStalls(t *testing.T) {
	// Not parallel, as the other process tests: a child forked while an
	// in-process run holds a feed's lock file holds it too until it execs.
	dbURL := dbtest.SQLite(t)
	fetched(t, dbURL)
	c, _, stderr := countsExportUnderWay(t, dbURL)
	c.Process.Signal(syscall.SIGTERM) // and nothing is read any more
	exited := make(chan int, 1)
	go func() { exited <- exitCode(c.Wait()) }()
	select {
	case code := <-exited:
		if code != 143 {
			t.Errorf("exit %d, want 143; stderr: %s", code, stderr)
		}
	case <-time.After(10 * time.Second): // a sanity bound, not a timing
		c.Process.Kill()
		<-exited
		t.Errorf("the export did not end at SIGTERM; stderr: %s", stderr)
	}
}

// countsExportUnderWay starts an export of counts of 900,000 one-second
// intervals (about 50 MB of CSV) from the database at dbURL to a pipe, and
// returns once it has read the first 4 KB of it.
func countsExportUnderWay(t *testing.T, dbURL string) (c *exec.Cmd, stdout io.Reader, stderr *bytes.Buffer) {
	t.Helper()
	since := time.Now().UTC().Add(-900000 * time.Second).Format(time.RFC3339)
	c, stderr = process(map[string]string{"TRAFFICCTL_DATABASE_URL": dbURL}, "export", "--table", "counts", "--every", "1s", "--since", since)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(out, make([]byte, 4096)); err != nil {
		t.Fatalf("reading the export: %v: %s", err, stderr)
	}
	return c, out, stderr
}
