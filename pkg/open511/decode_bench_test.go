package open511_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BenchmarkDecodeEvent is the per-event work of a fetch: field extraction,
// geometry, canonical JSON and its hash, for a generated 511-shaped event
// (about 1.5 KB, a fifth of them LineStrings).
func BenchmarkDecodeEvent(b *testing.B) {
	objs := feedtest.GenerateEvents(1000, 3)
	size := 0
	for _, o := range objs {
		size += len(o)
	}
	b.SetBytes(int64(size / len(objs)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := open511.DecodeEvent(objs[i%len(objs)], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchSnapshot reads a whole snapshot over loopback HTTP from the
// local feed server, 500 events a page as 511.org serves them, and decodes
// it as a stream. Bytes are the response bodies.
func BenchmarkFetchSnapshot(b *testing.B) {
	for _, n := range []int{500, 10000} {
		b.Run("events="+strconv.Itoa(n), func(b *testing.B) {
			srv := feedtest.New()
			defer srv.Close()
			srv.SetEvents(feedtest.GenerateEvents(n, 4), 500)
			c := &open511.Feed{Source: &source.Client{HTTP: &http.Client{}}, URL: srv.URL()}
			// One fetch first: it sizes the bodies and fills the server's cache.
			if _, _, err := traffic.ReadAll(context.Background(), c); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bodyBytes(srv))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				events, _, err := traffic.ReadAll(context.Background(), c)
				if err != nil {
					b.Fatal(err)
				}
				if len(events) != n {
					b.Fatalf("%d events, want %d", len(events), n)
				}
			}
		})
	}
}

// bodyBytes is the size of one snapshot's response bodies.
func bodyBytes(srv *feedtest.Server) int64 {
	var n int64
	for _, u := range srv.Requests() {
		resp, err := http.Get(srv.Server.URL + u.RequestURI())
		if err != nil {
			continue
		}
		buf := make([]byte, 64<<10)
		for {
			k, err := resp.Body.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		resp.Body.Close()
	}
	return n
}
