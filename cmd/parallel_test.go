package cmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/config"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// manyFeeds starts a feed server for each name, serving a few events of its
// own; those in hung answer no request until the client gives up, telling
// onHung as each request comes and as it ends. It returns the config file:
// every feed with no retries, the hung ones with a deadline of hungDeadline.
func manyFeeds(t *testing.T, names, hung []string, hungDeadline time.Duration, onHung func(start bool)) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "source:\n  url: http://127.0.0.1:1/\n  retries: 0\n  timeout: 1m\n  deadline: 1m\nfeeds:\n")
	for i, name := range names {
		srv := feedtest.New()
		t.Cleanup(srv.Close)
		srv.SetEvents(snapshotOf(10*i+1, 10*i+2, 10*i+3), 2)
		fmt.Fprintf(&b, "  %s:\n    url: %s\n", name, srv.URL())
		if slices.Contains(hung, name) {
			fmt.Fprintf(&b, "    deadline: %s\n", hungDeadline)
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
				onHung(true)
				<-r.Context().Done()
				onHung(false)
				return true
			})
		}
	}
	path := filepath.Join(t.TempDir(), "trafficctl.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// succeeded lists the feeds with a successful run in the ledger.
func succeeded(t *testing.T, dbURL string) []string {
	var out []string
	for _, r := range ledger(t, dbURL) {
		if feed, ok := strings.CutSuffix(r, " succeeded"); ok {
			out = append(out, feed)
		}
	}
	slices.Sort(out)
	return out
}

// TestParallelFetchOutlivesHungFeeds: ten feeds, the first two in name
// order hung until their deadline, four at a time. Every healthy feed is
// collected while the hung ones still wait, and the hung ones wait at the
// same time: the whole fetch takes one deadline, not the sum of the two.
// On SQLite the healthy feeds' writes queue for the one writer while the
// hung ones hold two slots.
func TestParallelFetchOutlivesHungFeeds(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		names := []string{"a-hung", "b-hung"}
		for i := 1; i <= 8; i++ {
			names = append(names, fmt.Sprintf("feed-%d", i))
		}
		healthy := names[2:]
		dbtest.Open(t, dbURL) // migrated before: the hung feeds' callbacks read the ledger
		var mu sync.Mutex
		hungNow, hungMost := 0, 0
		var doneAtDeadline [][]string // the feeds collected when each hung request ended
		ended := make(chan struct{}, 2)
		onHung := func(start bool) {
			mu.Lock()
			defer mu.Unlock()
			if start {
				hungNow++
				hungMost = max(hungMost, hungNow)
				return
			}
			hungNow--
			doneAtDeadline = append(doneAtDeadline, succeeded(t, dbURL))
			ended <- struct{}{}
		}
		cfg := manyFeeds(t, names, names[:2], 5*time.Second, onHung)
		code, _, errOut := run(t, time.Now(), "fetch", "--parallel", "4", "--config", cfg, "--database-url", dbURL)
		if code != ExitFailed {
			t.Fatalf("exit %d, want %d for the two hung feeds: %s", code, ExitFailed, errOut)
		}
		for _, name := range names[:2] {
			if !regexp.MustCompile("feed " + name + ": [^;]*the run did not finish within source.deadline \\(5s\\)").MatchString(errOut) {
				t.Errorf("the error does not name hung feed %s's deadline: %s", name, errOut)
			}
		}
		for range 2 { // the server sees the client go after the client went
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("a hung request never ended")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if hungMost != 2 {
			t.Errorf("at most %d hung requests at once: the hung feeds waited one after the other", hungMost)
		}
		for _, done := range doneAtDeadline {
			if !slices.Equal(done, healthy) {
				t.Errorf("when a hung feed's deadline came, the feeds collected were %v, want %v", done, healthy)
			}
		}
		runs := ledger(t, dbURL)
		slices.Sort(runs)
		want := []string{"a-hung failed", "b-hung failed"}
		for _, name := range healthy {
			want = append(want, name+" succeeded")
		}
		if !slices.Equal(runs, want) {
			t.Errorf("ledger %v, want %v", runs, want)
		}
	})
}

// TestSIGTERMDuringAParallelFetch: a signal while three feeds hang stops
// all three, each rolled back and recorded as failed; a feed collected
// before it keeps its run; the process exits 143.
func TestSIGTERMDuringAParallelFetch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		names := []string{"a-hung", "b-hung", "c-hung", "d-ok"}
		dbtest.Open(t, dbURL) // migrated: the test reads the ledger while the fetch runs
		hung := make(chan struct{}, 3)
		cfg := manyFeeds(t, names, names[:3], time.Minute, func(start bool) {
			if start {
				hung <- struct{}{}
			}
		})
		c, stderr := process(map[string]string{"TRAFFICCTL_DATABASE_URL": dbURL}, "fetch", "--parallel", "4", "--config", cfg)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
		timeout := time.After(20 * time.Second)
		for range 3 {
			select {
			case <-hung:
			case <-timeout:
				t.Fatalf("the hung feeds were not all requested at once: %s", stderr)
			}
		}
		for !slices.Equal(succeeded(t, dbURL), []string{"d-ok"}) {
			select {
			case <-timeout:
				t.Fatalf("the healthy feed was not collected: %s", stderr)
			case <-time.After(20 * time.Millisecond):
			}
		}
		c.Process.Signal(syscall.SIGTERM)
		if code := exitCode(c.Wait()); code != 143 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		st := dbtest.Open(t, dbURL)
		var runs []string
		err := st.Runs(context.Background(), store.Filter{}, func(r *store.FetchRun) error {
			if r.Status == store.RunFailed && !strings.Contains(r.Error, "interrupted by SIGTERM") {
				t.Errorf("feed %s failed with %q", r.Feed, r.Error)
			}
			runs = append(runs, r.Feed+" "+r.Status)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(runs)
		if want := []string{"a-hung failed", "b-hung failed", "c-hung failed", "d-ok succeeded"}; !slices.Equal(runs, want) {
			t.Errorf("ledger %v, want %v", runs, want)
		}
		var feeds []string
		if err := st.Events(context.Background(), store.Filter{}, func(e *store.Event) error {
			if !slices.Contains(feeds, e.Feed) {
				feeds = append(feeds, e.Feed)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(feeds, []string{"d-ok"}) {
			t.Errorf("events stored of feeds %v, want only d-ok's", feeds)
		}
	})
}

// TestParallelComesFromTheFlagOrTheConfig: --parallel wins over
// fetch.parallel, which applies without it; less than 1 is a usage error.
func TestParallelComesFromTheFlagOrTheConfig(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    int
		wantErr string
	}{
		{nil, 6, ""},
		{[]string{"--parallel", "2"}, 2, ""},
		{[]string{"--parallel", "0"}, 0, "--parallel must be at least 1"},
	} {
		var got *FetchOptions
		f := &Factory{Config: &config.Config{Fetch: config.Fetch{Parallel: 6}}}
		c := NewCmdFetch(f, func(_ context.Context, o *FetchOptions) error { got = o; return nil })
		c.SetArgs(append([]string{}, tc.args...))
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		err := c.Execute()
		if tc.wantErr != "" {
			if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want the usage error %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Parallel != tc.want {
			t.Errorf("%v: parallel %v (error %v), want %d", tc.args, got, err, tc.want)
		}
	}
}
