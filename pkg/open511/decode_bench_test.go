package open511_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
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
		if _, _, err := open511.DecodeEvent(objs[i%len(objs)]); err != nil {
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
			c := &open511.Client{HTTP: &http.Client{}, URL: srv.URL()}
			// One fetch first: it sizes the bodies and fills the server's cache.
			if _, err := c.FetchSnapshot(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bodyBytes(srv))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				snap, err := c.FetchSnapshot(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(snap.Events) != n {
					b.Fatalf("%d events, want %d", len(snap.Events), n)
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
