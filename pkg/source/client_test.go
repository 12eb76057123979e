package source_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/source"
)

const testKey = "test-key-0001"

func newClient(logs *bytes.Buffer) *source.Client {
	c := &source.Client{APIKey: testKey, Retries: 2, Backoff: time.Millisecond, Timeout: 2 * time.Second, UserAgent: "trafficctl/test"}
	if logs != nil {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return c
}

func get(t testing.TB, c *source.Client, raw string) (string, error) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	err = c.Get(context.Background(), u, "page 1", func(body []byte) error {
		got = string(body)
		return nil
	})
	return got, err
}

// A redirect to another host would take the key, in the query, with it:
// it fails the request, names the host, and the other host hears nothing.
func TestGetRefusesRedirectToAnotherHost(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"events":[]}`))
	}))
	defer other.Close()
	var asked atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer feed.Close()

	var logs bytes.Buffer
	c := newClient(&logs)
	_, err := get(t, c, feed.URL+"/traffic/events?format=json")
	otherHost := strings.TrimPrefix(other.URL, "http://")
	if err == nil || !strings.Contains(err.Error(), "redirects to another host ("+otherHost+")") {
		t.Fatalf("err = %v, want it to name %s", err, otherHost)
	}
	if strings.Contains(err.Error(), testKey) || strings.Contains(logs.String(), testKey) {
		t.Fatalf("the key is shown: %v\n%s", err, logs.String())
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("the feed got %d requests, want 1 (a redirect elsewhere is not retried)", n)
	}
}

// A redirect within the feed's own host and port is followed, and logged
// with its target (the key masked).
func TestGetFollowsRedirectOnTheSameHost(t *testing.T) {
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new?"+r.URL.RawQuery, http.StatusMovedPermanently)
			return
		}
		if r.URL.Query().Get("api_key") != testKey {
			http.Error(w, "no key", http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"events":[]}`))
	}))
	defer feed.Close()
	var logs bytes.Buffer
	c := newClient(&logs)
	c.HTTP = &http.Client{}
	body, err := get(t, c, feed.URL+"/old?format=json")
	if err != nil || body != `{"events":[]}` {
		t.Fatalf("body %q, err %v", body, err)
	}
	if !strings.Contains(logs.String(), "/new?api_key=***") || strings.Contains(logs.String(), testKey) {
		t.Fatalf("log does not show the redirect, masked:\n%s", logs.String())
	}
	if c.HTTP.CheckRedirect != nil {
		t.Fatal("the caller's http.Client was changed")
	}
}
