package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// feed starts a local feed and returns it with the settings that point
// trafficctl at it and at the database dbURL.
func feed(t *testing.T, dbURL string) (*feedtest.Server, map[string]string) {
	t.Helper()
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	return srv, map[string]string{"database.url": dbURL, "source.url": srv.URL()}
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
		config  map[string]string // for the failing run
		fault   func(calls *atomic.Int32) feedtest.Fault
		code    int
		message string
	}{
		{"500 forever", map[string]string{"source.retries": "1"}, func(*atomic.Int32) feedtest.Fault { return status(500, -1) },
			1, "fetch page 1 of http://127.0.0.1:PORT/traffic/events?api_key=***&format=json&limit=4: 500 Internal Server Error (retried 1 times)"},
		{"429 beyond the deadline", map[string]string{"source.deadline": "3s"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(429)
				return true
			}
		}, 75, "rate limited: the feed asked to wait 1h0m0s, longer than the run's deadline allows"},
		{"401", nil, func(*atomic.Int32) feedtest.Fault { return status(401, -1) },
			1, "API key refused (401 Unauthorized): set TRAFFICCTL_API_KEY (or FIVEONEONE_TOKEN) to a valid key"},
		{"body cut off half-way", map[string]string{"source.retries": "0"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Content-Length", "5000")
				w.Write([]byte(`{"events":[{"id":"511.org/1","headline":"cut`))
				return true
			}
		}, 1, "the response body ended early (truncated)"},
		{"not JSON", map[string]string{"source.retries": "0"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
				return true
			}
		}, 1, "the response is not JSON (an HTML error page or plain text?)"},
		{"never answers", map[string]string{"source.retries": "0", "source.timeout": "300ms"}, func(*atomic.Int32) feedtest.Fault {
			return func(w http.ResponseWriter, r *http.Request, page int) bool {
				<-r.Context().Done()
				return true
			}
		}, 1, "no complete answer within source.timeout (300ms)"},
		{"page 2 of 3 fails", map[string]string{"source.retries": "0"}, func(*atomic.Int32) feedtest.Fault { return status(500, 1) },
			1, "fetch page 2 of http://127.0.0.1:PORT/traffic/events?api_key=***&format=json&limit=4&offset=4: 500 Internal Server Error"},
	}
	t.Parallel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbtest.Each(t, func(t *testing.T, dbURL string) {
				srv, settings := feed(t, dbURL)
				settings = with(settings, map[string]string{"source.page_size": "4", "source.api_key": "SECRET-KEY-4b1d"})
				srv.SetEvents(snapshotOf(1, 2, 3, 4, 5, 6, 7, 8, 9), 4)
				if code, _, stderr := run(t, time.Now(), "--config", configFile(t, settings), "fetch"); code != 0 {
					t.Fatalf("first fetch exited %d: %s", code, stderr)
				}
				before, runsBefore := dump(t, dbURL)
				if before == "" {
					t.Fatal("the first fetch stored nothing: comparing the data before and after would prove nothing")
				}

				srv.SetEvents(snapshotOf(2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 4)
				var calls atomic.Int32
				srv.SetFault(tt.fault(&calls))
				code, stdout, stderr := run(t, time.Now(), "--config", configFile(t, with(settings, tt.config)), "fetch")
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
		})
	}
}

// TestTransientFaultsAreRetried: a 500, or a 429 with Retry-After: 1, then
// success gives a successful run. The wait the server asked for is the one
// logged (and slept: this case takes a second).
func TestTransientFaultsAreRetried(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		header string
		code   int
		wait   string // the logged wait, if the server chose it
	}{{"500 then success", "", 500, ""}, {"429 with Retry-After 1", "1", 429, " wait=1s "}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, settings := feed(t, dbtest.SQLite(t))
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
			code, _, stderr := run(t, time.Now(), "--config", configFile(t, settings), "fetch")
			if code != 0 || calls.Load() != 2 || !strings.Contains(stderr, "msg=retrying") || !strings.Contains(stderr, "new=3") {
				t.Fatalf("exit %d after %d calls:\n%s", code, calls.Load(), stderr)
			}
			if !strings.Contains(stderr, tt.wait) {
				t.Fatalf("the retry did not wait what Retry-After asked (%q):\n%s", tt.wait, stderr)
			}
		})
	}
}

func status(code, onPage int) feedtest.Fault { return statusFault(code, onPage) }
