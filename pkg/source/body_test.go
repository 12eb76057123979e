package source_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/source"
)

// gzipServer answers every request with n zero bytes, gzipped (a gzip bomb
// when n is large: zeros compress about 1000 to 1).
func gzipServer(tb testing.TB, n int) *httptest.Server {
	tb.Helper()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(make([]byte, n))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(zipped.Len()))
		w.Write(zipped.Bytes())
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// A gzipped body larger than max_body once decompressed is refused, and
// reading it allocates at most about 1.5 × max_body, not the 2 × max_body
// buffer (and smaller ones left behind) of bytes.Buffer.ReadFrom.
func TestGetRefusesGzipBombWithinMaxBody(t *testing.T) {
	const maxBody = 2 << 20
	srv := gzipServer(t, 3<<20)
	c := newClient(nil)
	c.MaxBody = maxBody
	get(t, c, srv.URL) // warm up: connections, the gzip reader's tables

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := get(t, c, srv.URL)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.HasSuffix(err.Error(), ": the response body is larger than source.max_body (2097152 bytes)") {
		t.Fatalf("err = %v", err)
	}
	// Chunks up to half the limit, then one buffer of the limit: 1.5 ×
	// max_body in all. The rest (gzip, HTTP, the server) is small.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*maxBody {
		t.Fatalf("reading the body allocated %d bytes, %.1f × max_body; want at most 2 ×", alloc, float64(alloc)/maxBody)
	}
}

// A body of exactly max_body is read whole, with or without a length.
func TestGetReadsABodyOfMaxBody(t *testing.T) {
	const maxBody = 1 << 20
	for _, tt := range []struct {
		name string
		srv  *httptest.Server
	}{
		{"gzipped", gzipServer(t, maxBody)},
		{"with Content-Length", httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, maxBody))
		}))},
		{"chunked", httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range 4 {
				w.Write(make([]byte, maxBody/4))
				w.(http.Flusher).Flush()
			}
		}))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.srv.Close()
			c := newClient(nil)
			c.MaxBody = maxBody
			body, err := get(t, c, tt.srv.URL)
			if err != nil || len(body) != maxBody {
				t.Fatalf("%d bytes, err %v", len(body), err)
			}
			c.MaxBody = maxBody - 1
			if _, err := get(t, c, tt.srv.URL); err == nil || !strings.Contains(err.Error(), "larger than source.max_body (1048575 bytes)") {
				t.Fatalf("one byte over: err = %v", err)
			}
		})
	}
}

// BenchmarkGzipBomb reads a gzipped body just over max_body (1 MiB more),
// which is refused. peak-heap-B is the most heap the body took (live and
// not yet collected objects, sampled every 100µs, over the level before
// the request); B/op is what was allocated in all.
func BenchmarkGzipBomb(b *testing.B) {
	for _, maxBody := range []int{2 << 20, source.DefaultMaxBody} {
		b.Run(strconv.Itoa(maxBody>>20)+"MiB", func(b *testing.B) {
			srv := gzipServer(b, maxBody+1<<20)
			c := &source.Client{Timeout: time.Minute, MaxBody: int64(maxBody)}
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := heapObjects()
				var top atomic.Uint64
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					t := time.NewTicker(100 * time.Microsecond)
					defer t.Stop()
					for {
						if h := heapObjects(); h > top.Load() {
							top.Store(h)
						}
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				}()
				b.StartTimer()
				_, err := get(b, c, srv.URL)
				b.StopTimer()
				close(stop)
				<-done
				if err == nil || !strings.Contains(err.Error(), "larger than source.max_body") {
					b.Fatalf("err = %v", err)
				}
				if top.Load() > base {
					peak = max(peak, top.Load()-base)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(peak), "peak-heap-B")
			b.ReportMetric(float64(peak)/float64(maxBody), "peak/max_body")
		})
	}
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
