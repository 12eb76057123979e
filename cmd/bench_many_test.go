package cmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
)

// BenchmarkFiftyFeeds is a collection of many feeds: 25 Open511
// feeds of 500 generated events and 25 WZDx documents of 500 features (the
// first 500 of testdata/wzdx/511-mtc-v4.1.json), five of the fifty answering
// after 2 s and two hung until their 20 s deadline; each iteration is the
// first fetch of all fifty into a new database, --parallel 8 and one after
// another (--parallel 1), on SQLite and PostgreSQL.
//
//	go test ./cmd -run '^$' -bench FiftyFeeds -benchtime 1x
func BenchmarkFiftyFeeds(b *testing.B) {
	cfg := fiftyFeeds(b)
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, parallel := range []int{8, 1} {
			b.Run(fmt.Sprintf("%s/parallel-%d", dialect, parallel), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					dbURL := dbtest.SQLite(b)
					if dialect == "postgres" {
						dbURL = dbtest.Postgres(b)
					}
					b.StartTimer()
					start := time.Now()
					code, _, errOut := run(b, time.Now(), "fetch", "--config", cfg, "--database-url", dbURL, "--parallel", fmt.Sprint(parallel), "--quiet")
					elapsed := time.Since(start)
					b.StopTimer()
					lines := strings.Split(strings.TrimSpace(errOut), "\n")
					last := lines[len(lines)-1]
					if code != ExitFailed || !strings.Contains(last, "feed open511-32: ") || !strings.Contains(last, "feed wzdx-07: ") ||
						strings.Count(last, "feed ") != 2 || strings.Count(last, "source.deadline (20s)") != 2 {
						b.Fatalf("exit %d, want %d with the two hung feeds failed: %s", code, ExitFailed, errOut)
					}
					b.ReportMetric(elapsed.Seconds(), "s/fetch")
					b.StartTimer()
				}
			})
		}
	}
}

// fiftyFeeds starts the fifty feeds and writes their config file.
func fiftyFeeds(b *testing.B) string {
	b.Helper()
	doc, err := os.ReadFile("../testdata/wzdx/511-mtc-v4.1.json")
	if err != nil {
		b.Fatal(err)
	}
	var wzdx map[string]json.RawMessage
	var features []json.RawMessage
	if err := json.Unmarshal(doc, &wzdx); err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(wzdx["features"], &features); err != nil {
		b.Fatal(err)
	}
	wzdx["features"], _ = json.Marshal(features[:500])
	doc, _ = json.Marshal(wzdx)

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "source:\n  url: http://127.0.0.1:1/\n  retries: 0\n  deadline: 20s\nfeeds:\n")
	for i := range 50 {
		slow, hung := i%10 == 3, i == 7 || i == 32 // 3, 13, 23, 33, 43 answer in 2 s
		delay := func(r *http.Request) bool {
			if hung {
				<-r.Context().Done()
				return true
			}
			if slow {
				time.Sleep(2 * time.Second)
			}
			return false
		}
		var url string
		if i%2 == 0 {
			srv := feedtest.New()
			b.Cleanup(srv.Close)
			srv.SetEvents(feedtest.GenerateEvents(500, uint64(i+1)), 500)
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool { return delay(r) })
			url = srv.URL()
			fmt.Fprintf(&cfg, "  open511-%02d:\n    url: %s\n", i, url)
		} else {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if delay(r) {
					return
				}
				w.Header().Set("Content-Type", "application/geo+json")
				w.Write(doc)
			}))
			b.Cleanup(srv.Close)
			fmt.Fprintf(&cfg, "  wzdx-%02d:\n    url: %s/wzdx\n    format: wzdx\n", i, srv.URL)
		}
	}
	path := filepath.Join(b.TempDir(), "trafficctl.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}
