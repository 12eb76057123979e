package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// run executes trafficctl in-process with captured streams.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{
		IO:         IOStreams{Out: &out, ErrOut: &errOut},
		Now:        time.Now,
		HTTPClient: &http.Client{},
		Secrets:    &redact.Secrets{},
		DotEnv:     filepath.Join(t.TempDir(), "none.env"),
	}
	code = Execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// feedFor starts a local feed and points the configuration at it and at
// the database dbURL.
func feedFor(t *testing.T, dbURL string) *feedtest.Server {
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	t.Setenv("TRAFFICCTL_DATABASE_URL", dbURL)
	t.Setenv("TRAFFICCTL_SOURCE_URL", srv.URL())
	return srv
}

// isolate clears the configuration a developer's shell may carry.
func isolate(t *testing.T) {
	for _, name := range []string{"TRAFFICCTL_API_KEY", "FIVEONEONE_TOKEN", "DATABASE_URL", "TRAFFICCTL_DATABASE_URL",
		"TRAFFICCTL_SOURCE_URL", "TRAFFICCTL_SOURCE_RETRIES", "TRAFFICCTL_SOURCE_TIMEOUT", "TRAFFICCTL_SOURCE_DEADLINE",
		"TRAFFICCTL_LOG_LEVEL", "TRAFFICCTL_LOG_FORMAT", "TRAFFICCTL_SOURCE_PAGE_SIZE"} {
		t.Setenv(name, "")
	}
	t.Chdir(t.TempDir())
}

// dump is the whole data content of the database as text: every column of
// events and event_versions, in a fixed order.
func dump(t *testing.T, dbURL string) (data string, runs []store.FetchRun) {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	data = dbtest.Dump(t, st.DB(), "SELECT * FROM events ORDER BY id") +
		dbtest.Dump(t, st.DB(), "SELECT * FROM event_versions ORDER BY event_id, version")
	err = st.Runs(context.Background(), store.Filter{}, func(r *store.FetchRun) error { runs = append(runs, *r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return data, runs
}

func snapshotOf(ids ...int) []json.RawMessage {
	var out []json.RawMessage
	for _, id := range ids {
		out = append(out, json.RawMessage(fmt.Sprintf(
			`{"id":"511.org/%d","headline":"Incident %d","event_type":"INCIDENT","severity":"Minor","status":"ACTIVE","geography":{"type":"Point","coordinates":[-122.%d,37.5]}}`, id, id, id)))
	}
	return out
}

// TestFaultsLeaveTheDatabaseUnchanged injects each fault the feed can
// throw and checks the exit status, the message, and that the database is
// exactly as before but for one failed ledger row.
func TestFaultsLeaveTheDatabaseUnchanged(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		fault   func(calls *atomic.Int32) feedtest.Fault
		code    int
		message string
	}{
		{"500 forever", map[string]string{"TRAFFICCTL_SOURCE_RETRIES": "1"}, func(*atomic.Int32) feedtest.Fault { return status(500, -1) },
			1, "fetch page 1 of http://127.0.0.1:PORT/traffic/events?api_key=***&format=json&limit=4: 500 Internal Server Error (retried 1 times)"},
		{"429 beyond the deadline", map[string]string{"TRAFFICCTL_SOURCE_DEADLINE": "3s"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(429)
				return true
			}
		}, 75, "rate limited: the feed asked to wait 1h0m0s, longer than the run's deadline allows"},
		{"401", nil, func(*atomic.Int32) feedtest.Fault { return status(401, -1) },
			1, "API key refused (401 Unauthorized): set TRAFFICCTL_API_KEY (or FIVEONEONE_TOKEN) to a valid key"},
		{"body cut off half-way", map[string]string{"TRAFFICCTL_SOURCE_RETRIES": "0"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Content-Length", "5000")
				w.Write([]byte(`{"events":[{"id":"511.org/1","headline":"cut`))
				return true
			}
		}, 1, "the response body ended early (truncated)"},
		{"not JSON", map[string]string{"TRAFFICCTL_SOURCE_RETRIES": "0"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
				return true
			}
		}, 1, "the response is not JSON (an HTML error page or plain text?)"},
		{"never answers", map[string]string{"TRAFFICCTL_SOURCE_RETRIES": "0", "TRAFFICCTL_SOURCE_TIMEOUT": "300ms"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				<-r.Context().Done()
				return true
			}
		}, 1, "no complete answer within source.timeout (300ms)"},
		{"page 2 of 3 fails", map[string]string{"TRAFFICCTL_SOURCE_RETRIES": "0"}, func(*atomic.Int32) feedtest.Fault { return status(500, 1) },
			1, "fetch page 2 of http://127.0.0.1:PORT/traffic/events?api_key=***&format=json&limit=4&offset=4: 500 Internal Server Error"},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				isolate(t)
				if strings.HasPrefix(dbURL, "postgres") {
					dbURL = dbtest.Postgres(t) // a fresh database per case
				} else {
					dbURL = dbtest.SQLite(t)
				}
				srv := feedFor(t, dbURL)
				t.Setenv("TRAFFICCTL_SOURCE_PAGE_SIZE", "4")
				t.Setenv("TRAFFICCTL_API_KEY", "SECRET-KEY-4b1d")
				srv.SetEvents(snapshotOf(1, 2, 3, 4, 5, 6, 7, 8, 9), 4)
				if code, _, stderr := run(t, "fetch"); code != 0 {
					t.Fatalf("first fetch exited %d: %s", code, stderr)
				}
				before, runsBefore := dump(t, dbURL)
				if before == "" {
					t.Fatal("the first fetch stored nothing: comparing the data before and after would prove nothing")
				}

				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				srv.SetEvents(snapshotOf(2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 4)
				var calls atomic.Int32
				srv.SetFault(tt.fault(&calls))
				code, stdout, stderr := run(t, "fetch")
				message := strings.ReplaceAll(tt.message, "PORT", srv.URL()[len("http://127.0.0.1:"):strings.LastIndex(srv.URL(), "/traffic")])
				if code != tt.code || !strings.Contains(stderr, message) || strings.Count(stderr, "\ntrafficctl: fetch page") != 1 || stdout != "" {
					t.Fatalf("exit %d (want %d), stderr:\n%s\nwant one line trafficctl: fetch page ...: %s", code, tt.code, stderr, message)
				}
				if strings.Contains(stderr, "SECRET-KEY-4b1d") || strings.Contains(stderr, "goroutine ") {
					t.Fatalf("stderr shows the key or a stack trace:\n%s", stderr)
				}
				after, runsAfter := dump(t, dbURL)
				if after != before {
					t.Fatalf("the failed run changed the data:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				if len(runsAfter) != len(runsBefore)+1 {
					t.Fatalf("%d ledger rows after, %d before", len(runsAfter), len(runsBefore))
				}
				last := runsAfter[len(runsAfter)-1]
				if last.Status != store.RunFailed || !strings.Contains(last.Error, message) || strings.Contains(last.Error+last.SourceURL, "SECRET-KEY") {
					t.Fatalf("ledger row: %+v", last)
				}
			})
		}
	})
}

// TestTransientFaultsAreRetried: a 500, or a 429 with Retry-After: 1, then
// success gives a successful run.
func TestTransientFaultsAreRetried(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header string
		code   int
	}{{"500 then success", "", 500}, {"429 with Retry-After 1", "1", 429}} {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			srv := feedFor(t, dbtest.SQLite(t))
			srv.SetEvents(snapshotOf(1, 2, 3), 4)
			var calls atomic.Int32
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
				if calls.Add(1) > 1 {
					return false
				}
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.code)
				return true
			})
			start := time.Now()
			code, _, stderr := run(t, "fetch")
			if code != 0 || calls.Load() != 2 || !strings.Contains(stderr, "msg=retrying") || !strings.Contains(stderr, "new=3") {
				t.Fatalf("exit %d after %d calls:\n%s", code, calls.Load(), stderr)
			}
			if tt.header == "1" && time.Since(start) < time.Second {
				t.Fatalf("did not wait the Retry-After second (took %s)", time.Since(start))
			}
		})
	}
}

func status(code, onPage int) feedtest.Fault { return statusFault(code, onPage) }
