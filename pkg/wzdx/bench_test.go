package wzdx_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

// BenchmarkStream reads 511.org's WZDx feed (1,186 features, 1.5 MB) over
// loopback HTTP, with nothing stored (stored=nil: every event decoded
// whole) and with every event stored unchanged (only ids and hashes
// handed on). The open511 sub-benchmarks are the yardstick: an Open511
// fetch of as many generated 511-shaped events, 500 to a page, measured
// the same way. A WZDx fetch should cost no more.
func BenchmarkStream(b *testing.B) {
	body, err := os.ReadFile(testdata + "511-mtc-v4.1.json")
	if err != nil {
		b.Fatal(err)
	}
	const n = 1186
	srv := serve(b, body)
	wz := &wzdx.Feed{Source: &source.Client{HTTP: &http.Client{}}, URL: srv.URL()}
	b.Run("wzdx/stored=nil", func(b *testing.B) { benchFeed(b, wz, n, int64(len(body)), false) })
	b.Run("wzdx/stored=unchanged", func(b *testing.B) { benchFeed(b, wz, n, int64(len(body)), true) })

	o511 := feedtest.New()
	defer o511.Close()
	events := feedtest.GenerateEvents(n, 4)
	o511.SetEvents(events, 500)
	size := int64(0)
	for _, e := range events {
		size += int64(len(e))
	}
	op := &open511.Feed{Source: &source.Client{HTTP: &http.Client{}}, URL: o511.URL()}
	b.Run("open511/stored=nil", func(b *testing.B) { benchFeed(b, op, n, size, false) })
	b.Run("open511/stored=unchanged", func(b *testing.B) { benchFeed(b, op, n, size, true) })
}

// benchFeed reads f's snapshot of n events b.N times. With unchanged, a
// first read fills the stored set and every later one finds each event
// stored.
func benchFeed(b *testing.B, f traffic.Feed, n int, size int64, unchanged bool) {
	ctx := context.Background()
	first, _, err := traffic.ReadAll(ctx, f) // also warms the server's cache
	if err != nil || len(first) != n {
		b.Fatalf("%d events, err %v", len(first), err)
	}
	var stored func(id, hash string) bool
	if unchanged {
		hashes := make(map[string]string, n)
		for _, e := range first {
			hashes[e.ID] = e.ContentHash
		}
		stored = func(id, hash string) bool { return hashes[id] == hash }
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, whole := 0, 0
		_, err := f.Stream(ctx, stored, func(events []traffic.Event) error {
			got += len(events)
			for _, e := range events {
				if e.Raw != "" {
					whole++
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if got != n || (unchanged && whole != 0) || (!unchanged && whole != n) {
			b.Fatalf("%d events, %d whole", got, whole)
		}
	}
}
