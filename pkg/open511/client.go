package open511

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/redact"
)

// Defaults used when a Client field is zero.
const (
	DefaultPageSize = 500
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBody  = 64 << 20
	DefaultBackoff  = time.Second
	// MaxPages stops a feed whose pagination never ends.
	MaxPages = 100
)

// ErrRateLimited is wrapped by errors for a feed that asked us to wait
// (429 or 503 with Retry-After) longer than the run may last, or kept
// answering 429. It is temporary: a later run may succeed.
var ErrRateLimited = errors.New("rate limited")

// ErrKeyRefused is wrapped when the feed answers 401 or 403.
var ErrKeyRefused = errors.New("API key refused")

// Client fetches complete snapshots from one Open511 events endpoint.
type Client struct {
	HTTP      *http.Client      // nil means a client with its own transport
	URL       string            // e.g. https://api.511.org/traffic/events
	APIKey    string            // sent as api_key; never printed
	Params    map[string]string // extra query parameters
	PageSize  int               // sent as limit
	Timeout   time.Duration     // per request, body included
	Retries   int               // further attempts after a retryable failure
	Backoff   time.Duration     // first retry delay; doubles, with jitter
	MaxBody   int64             // bytes of one decoded page body
	UserAgent string
	Logger    *slog.Logger
	// Stored, if set, reports whether an event with this id and content
	// hash is already stored as it is. Such an event is kept as its ID and
	// ContentHash only: an unchanged snapshot then holds a few bytes per
	// event in memory instead of its whole content. It is called from
	// several goroutines at once.
	Stored func(id, contentHash string) bool
}

// Snapshot is every event of one complete fetch.
type Snapshot struct {
	Events     []Event // unique ids, in feed order; a repeated id keeps its last content
	Pages      int
	Received   int // event objects read, duplicates and skipped ones included
	Skipped    int // objects without an id, or not objects
	Duplicates int // ids seen more than once
}

// FetchSnapshot reads every page of the feed, following pagination.next_url.
// It returns an error, and no partial snapshot, if any page fails.
func (c *Client) FetchSnapshot(ctx context.Context) (*Snapshot, error) {
	var events []Event
	index := map[string]int{}
	snap, err := c.Stream(ctx, func(page []Event) error {
		for _, e := range page {
			if i, dup := index[e.ID]; dup {
				events[i] = e
				continue
			}
			index[e.ID] = len(events)
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	snap.Events = events
	return snap, nil
}

// Stream reads every page of the feed like FetchSnapshot, and hands each
// page's events to sink, in feed order, from one goroutine, while the next
// pages are fetched and decoded. Events without an id are left out
// (counted as Skipped); an id met again is handed on again, and its later
// content counts. The returned Snapshot has the counts but no Events. If a
// page fails, or sink returns an error, Stream stops and returns that
// error; undoing what sink did is the caller's business (a transaction).
func (c *Client) Stream(ctx context.Context, sink func(events []Event) error) (*Snapshot, error) {
	next, err := c.firstURL()
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Each page is decoded in the background while the next page is
	// fetched, and handed to sink by one goroutine, in order. At most two
	// decoded pages wait for sink, which bounds memory.
	type pending struct {
		n    int
		done <-chan []decoded
	}
	queue := make(chan pending, 2)
	snap := &Snapshot{}
	sunk := make(chan error, 1)
	go func() {
		var failed error
		ids := map[string]bool{}
		for p := range queue {
			decoded := <-p.done
			if failed != nil || ctx.Err() != nil {
				continue // drain
			}
			events := make([]Event, 0, len(decoded))
			for _, d := range decoded {
				if c.accept(snap, ids, d, p.n) {
					events = append(events, d.ev)
				}
			}
			if failed = sink(events); failed != nil {
				cancel(failed)
			}
		}
		sunk <- failed
	}()
	fetchErr := c.fetchPages(ctx, next, snap, func(n int, page pageInfo) error {
		done := make(chan []decoded, 1)
		go func() {
			var events []decoded
			page.decode(c.Stored, func(d decoded) { events = append(events, d) })
			done <- events
		}()
		select {
		case queue <- pending{n, done}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	if fetchErr != nil {
		cancel(fetchErr) // sink is not called again
	}
	close(queue)
	sinkErr := <-sunk
	cancelled := errors.Is(sinkErr, context.Canceled) || errors.Is(sinkErr, context.DeadlineExceeded)
	switch {
	case sinkErr != nil && !cancelled:
		return nil, sinkErr // the fetch only stopped because of it
	case fetchErr != nil:
		return nil, fetchErr
	case sinkErr != nil && context.Cause(parent) != nil:
		return nil, context.Cause(parent) // a signal or the deadline, said as such
	case sinkErr != nil:
		return nil, sinkErr
	}
	return snap, nil
}

// fetchPages fetches the pages from next on and hands each to got.
func (c *Client) fetchPages(ctx context.Context, next *url.URL, snap *Snapshot, got func(n int, page pageInfo) error) error {
	seen := map[string]bool{}
	for next != nil {
		if snap.Pages == MaxPages {
			return fmt.Errorf("fetch %s: more than %d pages; stopping (pagination does not end)", redact.URL(next), MaxPages)
		}
		key := next.String()
		if seen[key] {
			return fmt.Errorf("fetch page %d: the feed links back to %s, which was already read (pagination loops)", snap.Pages+1, redact.URL(next))
		}
		seen[key] = true
		snap.Pages++
		page, err := c.fetchPage(ctx, next, snap.Pages)
		if err != nil {
			return err
		}
		if err := got(snap.Pages, page); err != nil {
			return err
		}
		next, err = c.nextURL(next, page.Pagination.NextURL)
		if err != nil {
			return fmt.Errorf("page %d of %s: %w", snap.Pages, redact.URL(next), err)
		}
	}
	return nil
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// accept counts one event object of page and logs its warnings; it reports
// whether the event is to be handed on (it has an id).
func (c *Client) accept(snap *Snapshot, ids map[string]bool, d decoded, page int) bool {
	snap.Received++
	for _, w := range d.warnings {
		c.logger().Warn(w)
	}
	if d.err != nil {
		snap.Skipped++
		c.logger().Warn("skipping event", "page", page, "position", snap.Received, "reason", d.err.Error())
		return false
	}
	if ids[d.ev.ID] {
		snap.Duplicates++
		c.logger().Warn("event appears twice in one snapshot; keeping the last", "id", d.ev.ID, "page", page)
	}
	ids[d.ev.ID] = true
	return true
}

func (c *Client) firstURL() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("source URL %q is not an http(s) URL", redact.Text(c.URL))
	}
	q := u.Query()
	for k, v := range c.Params {
		q.Set(k, v)
	}
	q.Set("format", "json")
	size := c.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	q.Set("limit", strconv.Itoa(size))
	if c.APIKey != "" {
		q.Set("api_key", c.APIKey)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// nextURL resolves pagination.next_url, which 511.org writes relative to
// the host, against the page that carried it.
func (c *Client) nextURL(current *url.URL, next string) (*url.URL, error) {
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
	if c.APIKey != "" && !u.Query().Has("api_key") {
		q := u.Query()
		q.Set("api_key", c.APIKey)
		u.RawQuery = q.Encode()
	}
	return u, nil
}

type pagination struct {
	NextURL string `json:"next_url"`
}

type pageInfo struct {
	Pagination pagination
	// decode hands the page's events to emit, in order; those that stored
	// (if not nil) reports as stored unchanged carry only their ID and
	// ContentHash. It may run on another goroutine, and only once.
	decode func(stored func(id, contentHash string) bool, emit func(decoded))
}

// fetchPage GETs one page with retries. Its events are only kept by the
// caller once the whole snapshot succeeded.
func (c *Client) fetchPage(ctx context.Context, u *url.URL, n int) (pageInfo, error) {
	where := fmt.Sprintf("fetch page %d of %s", n, redact.URL(u))
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	for attempt := 0; ; attempt++ {
		page, err := c.getPage(ctx, u)
		if err == nil {
			return page, nil
		}
		var retry *retryable
		if !errors.As(err, &retry) {
			return page, fmt.Errorf("%s: %w", where, err)
		}
		if attempt >= c.Retries {
			if attempt > 0 {
				return page, fmt.Errorf("%s: %w (retried %d times)", where, retry.err, attempt)
			}
			return page, fmt.Errorf("%s: %w", where, retry.err)
		}
		wait := backoff << attempt
		wait = wait/2 + rand.N(wait/2+1) // jitter: spread overlapping runs apart
		if retry.after > 0 {
			wait = retry.after
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			if retry.after > 0 {
				return page, fmt.Errorf("%s: %w: the feed asked to wait %s, longer than the run's deadline allows", where, ErrRateLimited, retry.after)
			}
			return page, fmt.Errorf("%s: %w (no time left for a retry before the run's deadline)", where, retry.err)
		}
		c.logger().Warn("retrying", "page", n, "attempt", attempt+1, "wait", wait.String(), "reason", redact.Text(retry.err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return page, fmt.Errorf("%s: %w", where, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryable wraps a failure worth another attempt; after is the wait the
// server asked for, if any.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func (c *Client) getPage(ctx context.Context, u *url.URL) (pageInfo, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return pageInfo{}, errors.New("cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.UserAgent)
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return pageInfo{}, c.transportError(ctx, rctx, err, timeout)
	}
	defer resp.Body.Close()
	c.logger().Debug("GET", "url", redact.URL(u), "status", resp.StatusCode, "headers_after", time.Since(start).Round(time.Millisecond).String())
	if err := statusError(resp); err != nil {
		return pageInfo{}, err
	}
	maxBody := c.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	body := &limitedReader{r: resp.Body, left: maxBody}
	page, err := readPage(body)
	if err != nil {
		switch {
		case body.exceeded:
			return page, fmt.Errorf("the response body is larger than source.max_body (%d bytes)", maxBody)
		case rctx.Err() != nil || errors.Is(err, io.ErrUnexpectedEOF):
			if cause := c.transportError(ctx, rctx, err, timeout); cause != nil {
				return page, cause
			}
		}
		return page, err
	}
	c.logger().Debug("page read", "url", redact.URL(u), "duration", time.Since(start).Round(time.Millisecond).String())
	return page, nil
}

// transportError says in one sentence what went wrong below HTTP, without
// the request URL that Go's *url.Error would print (it holds the key).
func (c *Client) transportError(ctx, rctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() != nil {
		return context.Cause(ctx) // the run was cancelled or hit its deadline: no retry
	}
	if rctx.Err() != nil {
		return &retryable{err: fmt.Errorf("no complete answer within source.timeout (%s)", timeout)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &retryable{err: errors.New("the response body ended early (truncated)")}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return &retryable{err: errors.New(redact.Text(err.Error()))}
}

func statusError(resp *http.Response) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w (%s): set TRAFFICCTL_API_KEY (or FIVEONEONE_TOKEN) to a valid key; 511.org keys come from https://511.org/open-data/token", ErrKeyRefused, resp.Status)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		after := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		err := errors.New(resp.Status)
		if code == http.StatusTooManyRequests {
			err = fmt.Errorf("%w: %s", ErrRateLimited, resp.Status)
		}
		return &retryable{err: err, after: after}
	case code >= 500:
		return &retryable{err: errors.New(resp.Status)}
	default:
		return errors.New(resp.Status)
	}
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// limitedReader fails once more than left bytes were read, so that an
// oversized body is an error and not an out-of-memory kill.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, errors.New("body too large")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1] // read one byte past the limit to tell "exactly at" from "over"
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.exceeded = true
		return n, errors.New("body too large")
	}
	return n, err
}

// decoded is one event object of a page, decoded or not.
type decoded struct {
	ev       Event
	warnings []string
	err      error
}

// utf8BOM starts 511.org's bodies.
var utf8BOM = []byte("\xef\xbb\xbf")

// readPage reads one page body (at most source.max_body bytes; a page is
// page_size events, well under that), checks that it is JSON and finds its
// events (see envelope); they are parsed one by one, later, by
// page.decode. A body that is not a well-formed Open511 page goes to the
// streaming decodePage over the same bytes and read error, whose errors
// say what is wrong with it.
func readPage(r io.Reader) (pageInfo, error) {
	// The body goes into a buffer reused from page to page once its events
	// are decoded (they are copied out of it).
	body := bodies.Get().(*bytes.Buffer)
	body.Reset()
	_, rerr := body.ReadFrom(r)
	data := bytes.TrimPrefix(body.Bytes(), utf8BOM)
	if rerr == nil && fastjson.ValidateBytes(data) == nil {
		if env, ok := readEnvelope(data); ok {
			page := pageInfo{decode: func(stored func(string, string) bool, emit func(decoded)) {
				defer bodies.Put(body)
				p, sc := parsers.Get(), scratches.Get().(*scratch)
				defer parsers.Put(p)
				defer scratches.Put(sc)
				for _, obj := range env.events {
					v, err := p.ParseBytes(obj) // valid: the whole body was
					if err == nil {
						var e Event
						var warnings []string
						e, warnings, err = decodeEvent(v, sc, stored)
						emit(decoded{e, warnings, err})
					} else {
						emit(decoded{err: err})
					}
				}
			}}
			page.Pagination.NextURL = env.next
			return page, nil
		}
	}
	defer bodies.Put(body)
	var events []decoded
	page, err := decodePage(io.MultiReader(bytes.NewReader(body.Bytes()), errReader{rerr}), func(d decoded) { events = append(events, d) })
	page.decode = func(stored func(string, string) bool, emit func(decoded)) {
		for _, d := range events {
			if d.err == nil && stored != nil && stored(d.ev.ID, d.ev.ContentHash) {
				d.ev = Event{ID: d.ev.ID, ContentHash: d.ev.ContentHash}
			}
			emit(d)
		}
	}
	return page, err
}

var (
	bodies    = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	scratches = sync.Pool{New: func() any { return new(scratch) }}
)

// errReader ends a MultiReader with the error the body read ended with.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// decodePage streams one response body: a UTF-8 byte-order mark is skipped
// (511.org sends one), events are handed to emit one by one, and the body
// must be an object with an "events" array.
func decodePage(r io.Reader, emit func(decoded)) (pageInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	var page pageInfo
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil {
		return page, notJSON(br, err)
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
			if err := decodeEvents(dec, emit); err != nil {
				return page, err
			}
		case "pagination":
			if err := dec.Decode(&page.Pagination); err != nil {
				return page, bodyError(err)
			}
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
	if !sawEvents {
		return page, errors.New("the response has no \"events\" member; is this an Open511 events URL?")
	}
	return page, nil
}

func decodeEvents(dec *json.Decoder, emit func(decoded)) error {
	tok, err := dec.Token()
	if err != nil {
		return bodyError(err)
	}
	if tok == nil {
		return nil // "events": null, as an empty list
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("\"events\" is not a list")
	}
	for dec.More() {
		var obj json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			return bodyError(err)
		}
		ev, warnings, err := DecodeEvent(obj)
		emit(decoded{ev, warnings, err})
	}
	_, err = dec.Token()
	return bodyError(err)
}

func bodyError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("the response is not valid JSON at byte %d: %v", syn.Offset, syn)
	}
	return err
}

func notJSON(br *bufio.Reader, err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the response body is empty")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.ErrUnexpectedEOF
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return errors.New("the response is not JSON (an HTML error page or plain text?)")
	}
	return err
}
