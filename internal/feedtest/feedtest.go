// Package feedtest is a local feed server for tests, benchmarks and the
// demo: it serves real-shaped bodies from testdata over loopback HTTP (any
// body as it is, such as a WZDx document; Open511 event lists paginated by
// offset as 511.org does), and can inject faults.
package feedtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
)

// Path is where the server answers, as on api.511.org.
const Path = "/traffic/events"

// Fault lets a test take over a request. page is the zero-based page the
// request asks for. It returns true if it wrote the response itself.
type Fault func(w http.ResponseWriter, r *http.Request, page int) bool

// Server serves one snapshot at a time.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	pages    [][]byte // the current snapshot's page bodies
	starts   []int    // offset of each page's first event
	replay   [][]json.RawMessage
	cur      int  // the replay snapshot being served; -1 before the first request
	cycle    bool // after the last replay snapshot comes the first again
	cache    map[pageKey][]byte
	pageSize int
	fault    Fault
	requests []url.URL
}

// pageKey names one generated page body, which is built once: benchmarks
// time the client, and a server re-encoding 15 MB per fetch on the same two
// cores would be part of what they measure.
type pageKey struct {
	snapshot int
	query    string
}

// New starts a server on loopback. Close it when done.
func New() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the events endpoint, to use as source.url.
func (s *Server) URL() string { return s.Server.URL + Path }

// SetBodies serves these page bodies, as they are, from now on. Page k is
// served for the offset at which its first event starts, so the next_url
// links written in fixture files work.
func (s *Server) SetBodies(bodies ...[]byte) error {
	starts := make([]int, len(bodies))
	offset := 0
	for i, b := range bodies {
		starts[i] = offset
		var env struct{ Events []json.RawMessage }
		if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &env); err == nil {
			offset += len(env.Events)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages, s.starts, s.replay, s.cache = bodies, starts, nil, nil
	return nil
}

// SetFiles is SetBodies with the contents of files.
func (s *Server) SetFiles(paths ...string) error {
	bodies := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		bodies[i] = b
	}
	return s.SetBodies(bodies...)
}

// SetEvents serves these event objects, pageSize to a page, in envelopes
// shaped like 511.org's: a host-relative next_url that echoes the query,
// api_key included.
func (s *Server) SetEvents(events []json.RawMessage, pageSize int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setReplay([][]json.RawMessage{events}, pageSize, false)
}

// Replay serves the snapshots in order: each request for a first page
// moves on to the next snapshot, and the last one stays.
func (s *Server) Replay(snapshots [][]json.RawMessage, pageSize int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setReplay(snapshots, pageSize, false)
}

// Cycle is Replay that starts again at the first snapshot after the last,
// so that a benchmark can fetch as often as it likes and every fetch sees
// the change from one snapshot to the next.
func (s *Server) Cycle(snapshots [][]json.RawMessage, pageSize int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setReplay(snapshots, pageSize, true)
}

func (s *Server) setReplay(snapshots [][]json.RawMessage, pageSize int, cycle bool) {
	s.pages, s.starts = nil, nil
	s.replay, s.cur, s.cycle = snapshots, -1, cycle // the first request advances to snapshots[0]
	s.cache = map[pageKey][]byte{}
	s.pageSize = pageSize
}

// SetFault installs (or, with nil, removes) a fault injector.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Requests returns the URLs requested so far.
func (s *Server) Requests() []url.URL {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.URL(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	s.mu.Lock()
	s.requests = append(s.requests, *r.URL)
	fault := s.fault
	var body []byte
	page := -1
	if s.replay != nil {
		if offset == 0 || s.cur < 0 {
			switch {
			case s.cur+1 < len(s.replay):
				s.cur++
			case s.cycle:
				s.cur = 0
			}
		}
		key := pageKey{s.cur, r.URL.RawQuery}
		if b, ok := s.cache[key]; ok {
			body, page = b, offset/max(s.size(r), 1)
		} else {
			body, page = s.generated(r, offset)
			if page >= 0 {
				s.cache[key] = body
			}
		}
	} else {
		for i, start := range s.starts {
			if start == offset {
				body, page = s.pages[i], i
			}
		}
	}
	s.mu.Unlock()
	if fault != nil && fault(w, r, page) {
		return
	}
	if page < 0 {
		http.Error(w, "no page at that offset", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(body)
}

// generated builds the page at offset of the current replay snapshot.
func (s *Server) generated(r *http.Request, offset int) ([]byte, int) {
	events := s.replay[max(s.cur, 0)]
	size := s.size(r)
	if size <= 0 {
		size = len(events) + 1
	}
	if offset > len(events) {
		return nil, -1
	}
	end := min(offset+size, len(events))
	q := r.URL.Query()
	env := struct {
		Pagination map[string]any    `json:"pagination"`
		Meta       map[string]string `json:"meta"`
	}{
		Pagination: map[string]any{"offset": offset},
		Meta:       map[string]string{"url": Path + "?" + q.Encode(), "up_url": "/", "version": "v1"},
	}
	if end < len(events) {
		q.Set("offset", strconv.Itoa(end))
		q.Set("limit", strconv.Itoa(size))
		env.Pagination["next_url"] = Path + "?" + q.Encode()
	}
	tail, err := json.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("feedtest: %v", err)) // only test data reaches here
	}
	// The events are written as they are (json.Marshal would compact them),
	// so a body is as large as the feed's own, white space included.
	var buf bytes.Buffer
	buf.WriteString("\xef\xbb\xbf") // as 511.org does
	buf.WriteString(`{"events":[`)
	for i, e := range events[offset:end] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(e)
	}
	buf.WriteString("],")
	buf.Write(tail[1:]) // "pagination":...,"meta":...}
	buf.WriteByte('\n')
	return buf.Bytes(), offset / max(size, 1)
}

// size is the page size a request gets: the server's, or the client's
// limit if smaller.
func (s *Server) size(r *http.Request) int {
	size := s.pageSize
	if limit, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && limit > 0 && (size <= 0 || limit < size) {
		size = limit
	}
	return size
}

// ReadSnapshotList reads a file holding a JSON list of event objects, as in
// testdata/511-real-2021.
func ReadSnapshotList(path string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var events []json.RawMessage
	if err := json.Unmarshal(b, &events); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return events, nil
}
