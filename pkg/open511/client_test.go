package open511_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

const testdata = "../../testdata/"

func newServer(t *testing.T, files ...string) *feedtest.Server {
	t.Helper()
	srv := feedtest.New()
	t.Cleanup(srv.Close)
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = testdata + f
	}
	if err := srv.SetFiles(paths...); err != nil {
		t.Fatal(err)
	}
	return srv
}

func client(srv *feedtest.Server) *open511.Feed {
	return &open511.Feed{URL: srv.URL(), PageSize: 5, Source: &source.Client{APIKey: "test-key-0001", Backoff: time.Millisecond, Timeout: 2 * time.Second, UserAgent: "trafficctl/test"}}
}

func TestFetchSnapshotFollowsPagesAndStripsBOM(t *testing.T) {
	t.Parallel()
	for _, first := range []string{"511/events_page1.json", "511/events_bom.json"} {
		t.Run(first, func(t *testing.T) {
			srv := newServer(t, first, "511/events_page2.json")
			snap, err := fetch(context.Background(), client(srv))
			if err != nil {
				t.Fatal(err)
			}
			if snap.Pages != 2 || len(snap.Events) != 8 || snap.Received != 8 || snap.Skipped != 0 {
				t.Fatalf("pages=%d events=%d received=%d skipped=%d", snap.Pages, len(snap.Events), snap.Received, snap.Skipped)
			}
			byID := map[string]traffic.Event{}
			for _, e := range snap.Events {
				byID[e.ID] = e
			}
			point := byID["511.org/763104"]
			if *point.Lat != 37.396166 || *point.Lon != -121.907568 || point.GeometryType != "Point" {
				t.Errorf("point: lat=%v lon=%v type=%s", *point.Lat, *point.Lon, point.GeometryType)
			}
			line := byID["511.org/761870"]
			if line.GeometryType != "LineString" || *line.Lat != 37.258462 || *line.Lon != -121.962391 {
				t.Errorf("linestring first vertex: lat=%v lon=%v", *line.Lat, *line.Lon)
			}
			if !strings.HasPrefix(line.Geometry, `{"type":"LineString","coordinates":[[-121.962391,37.258462],`) {
				t.Errorf("geometry = %s", line.Geometry)
			}
			if point.Created == nil || !point.Created.Equal(time.Date(2021, 4, 27, 15, 41, 0, 0, time.UTC)) {
				t.Errorf("created = %v", point.Created)
			}
			if point.Roads != "I-880 N (Northbound)" || point.Areas != "Santa Clara" || point.EventSubtypes != "Traffic Collision" {
				t.Errorf("roads=%q areas=%q subtypes=%q", point.Roads, point.Areas, point.EventSubtypes)
			}
			reqs := srv.Requests()
			q := reqs[0].Query()
			if q.Get("format") != "json" || q.Get("limit") != "5" || q.Get("api_key") != "test-key-0001" {
				t.Errorf("first request query = %v", q)
			}
			if reqs[1].Query().Get("offset") != "5" {
				t.Errorf("second request = %v", reqs[1].String())
			}
		})
	}
}

func TestFetchSnapshotSendsHeaders(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_empty.json")
	var ua, accept atomic.Value
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		ua.Store(r.Header.Get("User-Agent"))
		accept.Store(r.Header.Get("Accept"))
		return false
	})
	snap, err := fetch(context.Background(), client(srv))
	if err != nil || len(snap.Events) != 0 || snap.Pages != 1 {
		t.Fatalf("snap=%+v err=%v", snap, err)
	}
	if ua.Load() != "trafficctl/test" || accept.Load() != "application/json" {
		t.Fatalf("User-Agent %q Accept %q", ua.Load(), accept.Load())
	}
}

func TestFetchSnapshotDriveBC(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "drivebc/events.json")
	c := client(srv)
	c.Source.APIKey = ""
	snap, err := fetch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Events) == 0 {
		t.Fatal("no events")
	}
	e := snap.Events[0]
	if e.ID != "drivebc.ca/DBC-52446" || e.Severity != "MINOR" || e.GeometryType != "LineString" || *e.Lon != -122.577071 {
		t.Fatalf("first event = %+v", e)
	}
	want := time.Date(2021, 5, 8, 0, 31, 8, 0, time.UTC)
	if !e.Created.Equal(want) || e.Created.Location() != time.UTC {
		t.Fatalf("created = %v, want %v in UTC", e.Created, want)
	}
	if srv.Requests()[0].Query().Has("api_key") {
		t.Fatal("sent an api_key although none is configured")
	}
}

func TestFetchSnapshotErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   feedtest.Fault
		retries int
		want    string
		is      error
	}{
		{"500 forever", status(500), 2, "500 Internal Server Error (retried 2 times)", nil},
		{"401", status(401), 3, "API key refused (401 Unauthorized)", source.ErrKeyRefused},
		{"404 no retry", status(404), 3, "404 Not Found", nil},
		{"html", body("text/html", "<html><body>Service down</body></html>"), 0, "not JSON", nil},
		{"no events", body("application/json", `{"error":"x"}`), 0, `no "events" member`, nil},
		{"truncated", body("application/json", `{"events":[{"id":"511.org/1","headline":"x"`), 1, "ended early (truncated) (retried 1 times)", nil},
		{"empty body", body("application/json", ``), 0, "body is empty", nil},
		{"429 forever", status(429), 1, "rate limited", source.ErrRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, "511/events_page1.json", "511/events_page2.json")
			srv.SetFault(tt.fault)
			c := client(srv)
			c.Source.Retries = tt.retries
			_, err := fetch(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "test-key-0001") {
				t.Fatalf("error shows the key: %v", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v is not %v", err, tt.is)
			}
			if got := len(srv.Requests()); got != tt.retries+1 && tt.is != source.ErrKeyRefused && tt.name != "404 no retry" {
				t.Fatalf("%d requests, want %d", got, tt.retries+1)
			}
		})
	}
}

func TestFetchSnapshotRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_page1.json", "511/events_page2.json")
	var calls atomic.Int32
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page == 1 && calls.Add(1) == 1 {
			w.WriteHeader(502)
			return true
		}
		return false
	})
	c := client(srv)
	c.Source.Retries = 3
	snap, err := fetch(context.Background(), c)
	if err != nil || len(snap.Events) != 8 {
		t.Fatalf("snap=%v err=%v", snap, err)
	}
}

func TestFetchSnapshotRetryAfterBeyondDeadlineStopsAtOnce(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_page1.json", "511/events_page2.json")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
		return true
	})
	c := client(srv)
	c.Source.Retries = 3
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Had it waited, the run would end with the context's deadline, not
	// this error, and with no second request.
	_, err := fetch(ctx, c)
	if !errors.Is(err, source.ErrRateLimited) || !strings.Contains(err.Error(), "asked to wait 1h0m0s") {
		t.Fatalf("err = %v", err)
	}
	if len(srv.Requests()) != 1 {
		t.Fatalf("%d requests, want 1", len(srv.Requests()))
	}
}

func TestFetchSnapshotStopsOnLoopingPagination(t *testing.T) {
	t.Parallel()
	srv := feedtest.New()
	defer srv.Close()
	srv.SetBodies([]byte(`{"events":[{"id":"a/1"}],"pagination":{"next_url":"/traffic/events?offset=0&format=json"}}`))
	_, err := fetch(context.Background(), client(srv))
	if err == nil || !strings.Contains(err.Error(), "pagination loops") {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchSnapshotBodyLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_page1.json", "511/events_page2.json")
	c := client(srv)
	c.Source.MaxBody = 1000
	_, err := fetch(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "larger than source.max_body (1000 bytes)") {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchSnapshotTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_page1.json")
	release := make(chan struct{})
	defer close(release)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	c := client(srv)
	c.Source.Timeout = 100 * time.Millisecond
	c.Source.Retries = 1
	_, err := fetch(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "no complete answer within source.timeout (100ms) (retried 1 times)") {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchSnapshotSkipsEventsWithoutIDAndKeepsLastDuplicate(t *testing.T) {
	t.Parallel()
	srv := feedtest.New()
	defer srv.Close()
	srv.SetBodies([]byte(`{"events":[{"id":"a/1","headline":"old"},{"headline":"no id"},{"id":"a/2"},{"id":"a/1","headline":"new"},7]}`))
	snap, err := fetch(context.Background(), client(srv))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Received != 5 || snap.Skipped != 2 || snap.Duplicates != 1 || len(snap.Events) != 2 {
		t.Fatalf("%+v", snap)
	}
	if snap.Events[0].ID != "a/1" || snap.Events[0].Headline != "new" {
		t.Fatalf("first event = %+v", snap.Events[0])
	}
}

func status(code int) feedtest.Fault {
	return func(w http.ResponseWriter, r *http.Request, page int) bool {
		w.WriteHeader(code)
		return true
	}
}

func body(contentType, text string) feedtest.Fault {
	return func(w http.ResponseWriter, r *http.Request, page int) bool {
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(text))
		return true
	}
}

func TestFetchSnapshotAcceptsGzip(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_empty.json")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
			return false
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte("\xef\xbb\xbf" + `{"events":[{"id":"z/1","headline":"zipped"}],"pagination":{"offset":0}}`))
		zw.Close()
		return true
	})
	snap, err := fetch(context.Background(), client(srv))
	if err != nil || len(snap.Events) != 1 || snap.Events[0].Headline != "zipped" {
		t.Fatalf("snap=%+v err=%v", snap, err)
	}
}

// A long feed that ends is read whole: 3,000 events at 25 a page are 120
// pages, more than a fixed limit of 100 would allow.
func TestFetchSnapshotReadsLongFeedsWhole(t *testing.T) {
	srv := feedtest.New()
	defer srv.Close()
	srv.SetEvents(idEvents(3000), 25)
	c := client(srv)
	c.PageSize = 25
	snap, err := fetch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Pages != 120 || len(snap.Events) != 3000 {
		t.Fatalf("%d pages, %d events; want 120 and 3000", snap.Pages, len(snap.Events))
	}
}

// MaxPages stops a feed with more pages, and the error says which setting
// to raise.
func TestFetchSnapshotStopsAfterMaxPages(t *testing.T) {
	t.Parallel()
	srv := feedtest.New()
	defer srv.Close()
	srv.SetEvents(idEvents(6), 1)
	c := client(srv)
	c.PageSize, c.MaxPages = 1, 5
	_, err := fetch(context.Background(), c)
	if err == nil || !strings.HasSuffix(err.Error(), ": more than 5 pages; raise source.max_pages if the feed is really this long") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "test-key-0001") {
		t.Fatalf("the error shows the key: %v", err)
	}
	if len(srv.Requests()) != 5 {
		t.Fatalf("%d requests, want 5", len(srv.Requests()))
	}
}

// idEvents are n events that hold only an id.
func idEvents(n int) []json.RawMessage {
	events := make([]json.RawMessage, n)
	for i := range events {
		events[i] = json.RawMessage(fmt.Sprintf(`{"id":"p/%d"}`, i))
	}
	return events
}

// TestFetchSnapshotHonoursRetryAfterDate: a Retry-After date is read as the
// wait until then. An hour ahead, beyond the run's deadline, the fetch stops
// at once and says how long it was asked to wait; a date ignored would
// mean a retry after the backoff, and success.
func TestFetchSnapshotHonoursRetryAfterDate(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_empty.json")
	var calls atomic.Int32
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(503)
			return true
		}
		return false
	})
	c := client(srv)
	c.Source.Retries = 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := fetch(ctx, c)
	// HTTP dates have whole seconds: the wait is a little under an hour.
	if !errors.Is(err, source.ErrRateLimited) || !regexp.MustCompile(`asked to wait 59m[0-9.]+s,`).MatchString(err.Error()) {
		t.Fatalf("err = %v, want the wait until the Retry-After date", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d requests, want 1", calls.Load())
	}
}

func TestFetchSnapshotKeepsOnlyIDAndHashOfStoredEvents(t *testing.T) {
	t.Parallel()
	srv := newServer(t, "511/events_page1.json", "511/events_page2.json")
	c := client(srv)
	first, err := fetch(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{first.Events[0].ID: first.Events[0].ContentHash, first.Events[1].ID: "another hash"}
	var events []traffic.Event
	_, err = c.Stream(context.Background(), func(id, hash string) bool { return stored[id] == hash }, func(page []traffic.Event) error {
		events = append(events, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := result{Events: events}
	if e := snap.Events[0]; e.ID != first.Events[0].ID || e.ContentHash != first.Events[0].ContentHash || e.Raw != "" || e.Headline != "" {
		t.Fatalf("a stored event kept its content: %+v", e)
	}
	if e := snap.Events[1]; e.Raw == "" || e.Headline == "" {
		t.Fatalf("a changed event lost its content: %+v", e)
	}
}

// result is one snapshot read whole.
type result struct {
	Events []traffic.Event
	traffic.Snapshot
}

func fetch(ctx context.Context, f *open511.Feed) (*result, error) {
	events, snap, err := traffic.ReadAll(ctx, f)
	if err != nil {
		return nil, err
	}
	return &result{events, snap}, nil
}

// The fetch is not held by a page's decode: page 1's decode here waits
// until page 3 is requested, so the test passes only if pages are fetched
// while an earlier one is still decoding.
func TestStreamFetchesAheadOfDecoding(t *testing.T) {
	t.Parallel()
	srv := feedtest.New()
	defer srv.Close()
	srv.SetEvents(idEvents(4), 1)
	third := make(chan struct{})
	var once sync.Once
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page >= 2 { // zero-based: the third page
			once.Do(func() { close(third) })
		}
		return false
	})
	c := client(srv)
	c.PageSize = 1
	waited := false
	stored := func(id, hash string) bool {
		if id == "p/0" {
			select {
			case <-third:
			case <-time.After(time.Minute): // only so that a failure does not hang
				waited = true
			}
		}
		return false
	}
	var got []string
	_, err := c.Stream(context.Background(), stored, func(page []traffic.Event) error {
		for _, e := range page {
			got = append(got, e.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if waited {
		t.Fatal("page 3 was not requested while page 1 decoded")
	}
	if strings.Join(got, " ") != "p/0 p/1 p/2 p/3" {
		t.Fatalf("events %v, want p/0 to p/3 in order", got)
	}
}
