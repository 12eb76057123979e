package open511

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"
	"golang.org/x/sync/errgroup"

	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Defaults used when a Feed field is zero.
const (
	DefaultPageSize = 500
	// DefaultMaxPages stops a feed whose pagination never ends: 500,000
	// events at the default page size.
	DefaultMaxPages = 1000
)

// Feed reads complete snapshots from one Open511 events endpoint.
type Feed struct {
	Source   *source.Client
	URL      string            // e.g. https://api.511.org/traffic/events
	Params   map[string]string // extra query parameters
	PageSize int               // sent as limit
	MaxPages int               // more pages fail the run (source.max_pages)
	Location *time.Location    // for times without an offset; nil is UTC
	Logger   *slog.Logger
}

// Stream reads every page of the feed, following pagination.next_url, and
// hands each page's events to sink, in feed order, on the calling
// goroutine, while one other goroutine fetches the next pages and starts
// their decodes (in a share per core, decodeShares).
// Events without an id are left out (counted as Skipped); an id met again
// is handed on again, and its later content counts. If stored is not nil,
// an event it reports as stored with this content is handed on as its ID
// and ContentHash only, with HashOnly set. If a page fails, or sink returns
// an error, Stream stops and returns that error; undoing what sink did is
// the caller's business (a transaction).
func (f *Feed) Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func(events []traffic.Event) error) (traffic.Snapshot, error) {
	var snap traffic.Snapshot
	next, err := f.firstURL()
	if err != nil {
		return snap, err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The fetching goroutine starts each page's decode and goes on to the
	// next page; the caller waits for a page's events when it takes it. At
	// most two pages wait for sink, which bounds memory. The fetch never
	// waits for a decode: it is what an unchanged run's time hangs on
	// (docs/benchmarks.md, "Unchanged runs").
	type page struct {
		n      int
		events func() []decoded // waits for the page's decode
	}
	pages := make(chan page, 2)
	var g errgroup.Group
	g.Go(func() error {
		defer close(pages)
		return f.fetchPages(ctx, next, &snap.Pages, func(n int, p pageInfo) error {
			pg := page{n: n, events: f.startDecode(p, stored)}
			select {
			case pages <- pg:
				return nil
			case <-ctx.Done():
				pg.events() // its body goes back to the client
				return context.Cause(ctx)
			}
		})
	})
	var sinkErr error
	ids := map[string]bool{}
	for p := range pages {
		decoded := p.events()
		events := make([]traffic.Event, 0, len(decoded))
		for _, d := range decoded {
			if f.accept(&snap, ids, d, p.n) {
				events = append(events, d.ev)
			}
		}
		if sinkErr != nil || ctx.Err() != nil {
			continue // read, and counted for the ledger, but the run is failing
		}
		if sinkErr = sink(events); sinkErr != nil {
			cancel(sinkErr) // no more pages are fetched
		}
	}
	fetchErr := g.Wait()
	cancelled := errors.Is(sinkErr, context.Canceled) || errors.Is(sinkErr, context.DeadlineExceeded)
	switch {
	case sinkErr != nil && !cancelled:
		return snap, sinkErr // the fetch only stopped because of it
	case fetchErr != nil:
		return snap, fetchErr
	case sinkErr != nil && context.Cause(parent) != nil:
		return snap, context.Cause(parent) // a signal or the deadline, said as such
	case sinkErr != nil:
		return snap, sinkErr
	}
	return snap, nil
}

// fetchPages fetches the pages from next on and hands each to got.
func (f *Feed) fetchPages(ctx context.Context, next *url.URL, pages *int, got func(n int, page pageInfo) error) error {
	maxPages := f.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	seen := map[string]bool{}
	for next != nil {
		if *pages == maxPages {
			return fmt.Errorf("fetch page %d of %s: more than %d pages; raise source.max_pages if the feed is really this long", *pages+1, redact.URL(next), maxPages)
		}
		key := next.String()
		if seen[key] {
			return fmt.Errorf("fetch page %d: the feed links back to %s, which was already read (pagination loops)", *pages+1, redact.URL(next))
		}
		seen[key] = true
		*pages++
		what := "page " + strconv.Itoa(*pages)
		var page pageInfo
		var following *url.URL
		// A bad next_url fails the page like a bad body, so the error
		// names the page that carried it, as the client names every page.
		err := f.Source.Get(ctx, next, what, func(body []byte) (err error) {
			if page, err = readPage(body); err != nil {
				return err
			}
			page.body = body
			following, err = nextURL(next, page.next)
			return err
		})
		if err != nil {
			return err
		}
		if err := got(*pages, page); err != nil {
			return err
		}
		next = following
	}
	return nil
}

// startDecode starts decoding p's events and returns what waits for them;
// p's body goes back to the client then.
func (f *Feed) startDecode(p pageInfo, stored func(id, contentHash string) bool) func() []decoded {
	wait := p.decode(stored, f.Location)
	return func() []decoded {
		events := wait()
		f.Source.Release(p.body) // decoded events hold copies, not the body
		return events
	}
}

func (f *Feed) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// accept counts one event object of page and logs its warnings; it reports
// whether the event is to be handed on (it has an id).
func (f *Feed) accept(snap *traffic.Snapshot, ids map[string]bool, d decoded, page int) bool {
	snap.Received++
	for _, w := range d.warnings {
		f.logger().Warn(w)
	}
	if d.err != nil {
		snap.Skipped++
		f.logger().Warn("skipping event", "page", page, "position", snap.Received, "reason", d.err.Error())
		return false
	}
	if ids[d.ev.ID] {
		snap.Duplicates++
		f.logger().Warn("event appears twice in one snapshot; keeping the last", "id", d.ev.ID, "page", page)
	}
	ids[d.ev.ID] = true
	return true
}

func (f *Feed) firstURL() (*url.URL, error) {
	u, err := source.CheckURL(f.URL)
	if err != nil {
		return nil, fmt.Errorf("source URL %w", err)
	}
	q := u.Query()
	for k, v := range f.Params {
		q.Set(k, v)
	}
	q.Set("format", "json")
	size := f.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	q.Set("limit", strconv.Itoa(size))
	u.RawQuery = q.Encode()
	return u, nil
}

// nextURL resolves pagination.next_url, which 511.org writes relative to
// the host, against the page that carried it. The client adds the key.
func nextURL(current *url.URL, next string) (*url.URL, error) {
	if strings.TrimSpace(next) == "" {
		return nil, nil
	}
	ref, err := url.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("pagination.next_url is not a URL")
	}
	u := current.ResolveReference(ref)
	if u.Host != current.Host {
		return nil, fmt.Errorf("pagination.next_url points to another host (%s)", u.Host)
	}
	return u, nil
}

type pageInfo struct {
	body []byte // what decode reads; released to the client after it
	next string // pagination.next_url
	// decode starts decoding the page's events and returns what waits for
	// them, in order; those that stored (if not nil) reports as stored
	// unchanged carry only their ID and ContentHash. It runs only once.
	decode func(stored func(id, contentHash string) bool, loc *time.Location) (wait func() []decoded)
}

// decoded is one event object of a page, decoded or not.
type decoded struct {
	ev       traffic.Event
	warnings []string
	err      error
}

// readPage checks that a page body is JSON and finds its events (see
// envelope); they are parsed one by one, later, by page.decode. A body that
// is not a well-formed Open511 page goes to the streaming decodePage,
// whose errors say what is wrong with it.
func readPage(data []byte) (pageInfo, error) {
	if traffic.NestedDeeperThan(data, traffic.MaxNesting) {
		return pageInfo{}, traffic.ErrTooDeep
	}
	if fastjson.ValidateBytes(data) == nil {
		if env, ok := readEnvelope(data); ok {
			page := pageInfo{next: env.next, decode: func(stored func(string, string) bool, loc *time.Location) func() []decoded {
				return decodeShares(env.events, stored, loc)
			}}
			return page, nil
		}
	}
	return decodePage(data)
}

var scratches = sync.Pool{New: func() any { return new(traffic.Scratch) }}

// decodeShares starts decoding a page's event objects, in one contiguous
// share per core, each on a goroutine of its own, and returns what waits
// for them, in order: decoding is most of the CPU of a run that finds its
// events unchanged, and one core left idle made such a run a third slower
// (docs/benchmarks.md, "Content in spells").
func decodeShares(objs [][]byte, stored func(string, string) bool, loc *time.Location) func() []decoded {
	out := make([]decoded, len(objs))
	per := max((len(objs)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0), 1)
	var g errgroup.Group
	for start := 0; start < len(objs); start += per {
		end := min(start+per, len(objs))
		g.Go(func() error {
			p, sc := parsers.Get(), scratches.Get().(*traffic.Scratch)
			defer parsers.Put(p)
			defer scratches.Put(sc)
			for i := start; i < end; i++ {
				v, err := traffic.Parse(p, "event", objs[i]) // valid: the whole body was
				if err != nil {
					out[i] = decoded{err: err}
					continue
				}
				e, warnings, err := decodeEvent(v, sc, stored, loc)
				out[i] = decoded{e, warnings, err}
			}
			return nil
		})
	}
	return func() []decoded {
		g.Wait() // the shares return no error: a bad object is an event to skip
		return out
	}
}

// decodePage reads a body that readEnvelope did not take, with
// encoding/json, to say what is wrong with it: the body must be an object
// with an "events" array.
func decodePage(data []byte) (pageInfo, error) {
	var page pageInfo
	var objs []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return page, notJSON(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return page, errors.New("the response is JSON but not an object; expected an Open511 body with \"events\"")
	}
	sawEvents := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return page, bodyError(err)
		}
		key, _ := tok.(string)
		switch key {
		case "events":
			sawEvents = true
			if objs, err = decodeEvents(dec); err != nil {
				return page, err
			}
		case "pagination":
			var p struct {
				NextURL string `json:"next_url"`
			}
			if err := dec.Decode(&p); err != nil {
				return page, bodyError(err)
			}
			page.next = p.NextURL
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return page, bodyError(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return page, bodyError(err)
	}
	// One value and white space: a second document after the first (or
	// garbage) means the body is not what it seems, and its first part
	// is no snapshot to store.
	if rest := traffic.SkipSpace(data, int(dec.InputOffset())); rest < len(data) {
		return page, fmt.Errorf("the response is not valid JSON at byte %d: more follows the end of the JSON value", rest+1)
	}
	if !sawEvents {
		return page, errors.New("the response has no \"events\" member; is this an Open511 events URL?")
	}
	page.decode = func(stored func(string, string) bool, loc *time.Location) func() []decoded {
		out := make([]decoded, len(objs))
		for i, obj := range objs {
			ev, warnings, err := DecodeEvent(obj, loc)
			if err == nil && stored != nil && stored(ev.ID, ev.ContentHash) {
				ev = traffic.Unchanged(ev.ID, ev.ContentHash)
			}
			out[i] = decoded{ev, warnings, err}
		}
		return func() []decoded { return out }
	}
	return page, nil
}

func decodeEvents(dec *json.Decoder) ([]json.RawMessage, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, bodyError(err)
	}
	if tok == nil {
		// Not an empty snapshot: taken as one, it would close every event.
		return nil, errors.New("\"events\" is null, not a list")
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("\"events\" is not a list")
	}
	var objs []json.RawMessage
	for dec.More() {
		var obj json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return nil, bodyError(err)
		}
		objs = append(objs, obj)
	}
	_, err = dec.Token()
	return objs, bodyError(err)
}

func bodyError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return source.ErrTruncated
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("the response is not valid JSON at byte %d: %v", syn.Offset, syn)
	}
	return err
}

func notJSON(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the response body is empty")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return source.ErrTruncated
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return errors.New("the response is not JSON (an HTML error page or plain text?)")
	}
	return err
}
