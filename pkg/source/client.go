// Package source gets a feed's bytes over HTTP, the same for every feed
// format: where the API key goes, the per-request timeout, retries with
// backoff and Retry-After, the run's deadline, gzip, a UTF-8 byte-order
// mark, the body size limit, and errors that never show the key.
package source

import (
	"bytes"
	"context"
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

	"github.com/trafficctl/trafficctl/pkg/redact"
)

// Defaults used when a Client field is zero.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMaxBody = 64 << 20
	DefaultBackoff = time.Second
)

// ErrRateLimited is wrapped by errors for a feed that asked us to wait
// (429 or 503 with Retry-After) longer than the run may last, or kept
// answering 429. It is temporary: a later run may succeed.
var ErrRateLimited = errors.New("rate limited")

// ErrKeyRefused is wrapped when the feed answers 401 or 403.
var ErrKeyRefused = errors.New("API key refused")

// Client gets response bodies from one feed.
type Client struct {
	HTTP      *http.Client  // nil means http.DefaultClient
	APIKey    string        // sent as the api_key query parameter; never printed
	Timeout   time.Duration // per request, body included
	Retries   int           // further attempts after a retryable failure
	Backoff   time.Duration // first retry delay; doubles, with jitter (tests use milliseconds)
	MaxBody   int64         // bytes of one decoded body
	UserAgent string
	Logger    *slog.Logger
	// Name, when set, is what errors call the source in place of the
	// request's URL: an import's requests read an archived file.
	Name func() string

	// free holds bodies the caller is done with (Release), to read the
	// next ones into.
	free     chan []byte
	freeOnce sync.Once
}

// Release gives back a body that Get returned and that nothing uses any
// more: the next Get reads into it instead of allocating, which a process
// whose new memory is page faults pays for (docs/benchmarks.md, "Content
// in spells"). Safe from any goroutine.
func (c *Client) Release(body []byte) {
	select {
	case c.freeList() <- body[:0]:
	default: // enough kept
	}
}

func (c *Client) freeList() chan []byte {
	c.freeOnce.Do(func() { c.free = make(chan []byte, 2) }) // one page waits to be decoded, one is read
	return c.free
}

// reuse is a released body to read into, or nil.
func (c *Client) reuse() []byte {
	select {
	case b := <-c.freeList():
		return b
	default:
		return nil
	}
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// CheckURL parses a feed URL and checks that it is http(s) with a host.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", redact.Text(raw))
	}
	return u, nil
}

// ErrTruncated is wrapped by a parse error that means the body ended
// early: the request is tried again, as for a connection that broke.
var ErrTruncated = errors.New("the response body ended early (truncated)")

// Get fetches u (to which it adds the API key), with retries, and hands its
// body, without a UTF-8 byte-order mark, to parse (which may keep it). A
// parse error that wraps ErrTruncated is retried; any other fails the
// request. what names the request in errors, e.g. "page 2".
func (c *Client) Get(ctx context.Context, u *url.URL, what string, parse func(body []byte) error) error {
	src := redact.URL(c.withKey(u))
	if c.Name != nil {
		src = c.Name()
	}
	where := fmt.Sprintf("fetch %s of %s", what, src)
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	for attempt := 0; ; attempt++ {
		body, err := c.get(ctx, u)
		if err == nil {
			if err = parse(body); errors.Is(err, ErrTruncated) {
				err = &retryable{err: ErrTruncated}
			} else if err == nil {
				return nil
			}
		}
		var retry *retryable
		if !errors.As(err, &retry) {
			return fmt.Errorf("%s: %w", where, err)
		}
		if attempt >= c.Retries {
			if attempt > 0 {
				return fmt.Errorf("%s: %w (retried %d times)", where, retry.err, attempt)
			}
			return fmt.Errorf("%s: %w", where, retry.err)
		}
		wait := backoff << attempt
		wait = wait/2 + rand.N(wait/2+1) // jitter: spread overlapping runs apart
		if retry.after > 0 {
			wait = retry.after
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			if retry.after > 0 {
				return fmt.Errorf("%s: %w: the feed asked to wait %s, longer than the run's deadline allows", where, ErrRateLimited, retry.after)
			}
			return fmt.Errorf("%s: %w (no time left for a retry before the run's deadline)", where, retry.err)
		}
		c.logger().Warn("retrying", "request", what, "attempt", attempt+1, "wait", wait.String(), "reason", redact.Text(retry.err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", where, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// withKey is u with the API key as its api_key parameter, if there is a key.
func (c *Client) withKey(u *url.URL) *url.URL {
	if c.APIKey == "" {
		return u
	}
	with := *u
	q := with.Query()
	q.Set("api_key", c.APIKey)
	with.RawQuery = q.Encode()
	return &with
}

// retryable wraps a failure worth another attempt; after is the wait the
// server asked for, if any.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// utf8BOM starts 511.org's bodies.
var utf8BOM = []byte("\xef\xbb\xbf")

func (c *Client) get(ctx context.Context, u *url.URL) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.withKey(u).String(), nil)
	if err != nil {
		return nil, errors.New("cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.UserAgent)
	start := time.Now()
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var elsewhere *redirectError
		if errors.As(err, &elsewhere) {
			return nil, elsewhere // not worth another attempt: the feed will say the same
		}
		return nil, c.transportError(ctx, rctx, err, timeout)
	}
	defer resp.Body.Close()
	c.logger().Debug("GET", "url", redact.URL(u), "status", resp.StatusCode, "headers_after", time.Since(start).Round(time.Millisecond).String())
	if err := statusError(resp); err != nil {
		return nil, err
	}
	maxBody := c.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	body, err := readInto(resp.Body, resp.ContentLength, maxBody, c.reuse())
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, fmt.Errorf("the response body is larger than source.max_body (%d bytes)", maxBody)
		}
		return nil, c.transportError(ctx, rctx, err, timeout)
	}
	c.logger().Debug("body read", "url", redact.URL(u), "bytes", len(body), "duration", time.Since(start).Round(time.Millisecond).String())
	return bytes.TrimPrefix(body, utf8BOM), nil
}

var errTooLarge = errors.New("body too large")

// readInto reads r into the released buffer into when the body fits in
// it, and as readBody does otherwise (also when into is nil).
func readInto(r io.Reader, size, limit int64, into []byte) ([]byte, error) {
	if cap(into) == 0 || size > int64(cap(into)) || int64(cap(into)) > limit {
		return readBody(r, size, limit)
	}
	buf := into[:cap(into)]
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
	// Longer than the buffer: the rest is read the bounded way.
	return readBody(io.MultiReader(bytes.NewReader(buf), r), size, limit)
}

// readBody reads r to its end; a body longer than limit is errTooLarge.
// size is the announced length (Content-Length), or -1 (always so for a
// body Go decompresses).
//
// The heap it takes, garbage included, stays within 1.5 × limit even for
// a gzip bomb: the body is read into chunks of doubling size (nothing is
// copied or thrown away) while they hold at most half the limit; past
// that, into one buffer of limit+1 bytes, with the chunks copied to it.
// A body that fits in the chunks is joined into one slice of its size at
// the end (2 × at most half the limit). bytes.Buffer.ReadFrom would double
// its buffer past the limit and leave each smaller one behind
// (docs/benchmarks.md, "Gzip bomb").
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, errTooLarge
	}
	first := min(64<<10, limit+1)
	if size >= 0 {
		first = size + 1 // +1: EOF is seen without another chunk
	}
	var chunks [][]byte // filled, in order
	var held int64      // bytes in chunks
	buf := make([]byte, 0, first)
	for {
		if len(buf) == cap(buf) {
			if held+int64(len(buf)) > limit {
				return nil, errTooLarge
			}
			chunks, held = append(chunks, buf), held+int64(len(buf))
			if next := max(2*int64(cap(buf)), 64<<10); held+next <= limit/2 {
				buf = make([]byte, 0, next)
			} else {
				buf = make([]byte, 0, limit+1)
				for _, c := range chunks {
					buf = append(buf, c...)
				}
				chunks, held = nil, 0
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if held+int64(len(buf)) > limit {
		return nil, errTooLarge
	}
	if len(chunks) == 0 {
		return buf, nil
	}
	body := make([]byte, 0, held+int64(len(buf)))
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(body, buf...), nil
}

// httpClient is a copy of c.HTTP (the caller's is left alone) that follows
// a redirect only within the host and port of the request: the key is in
// the query, and Go would carry it to wherever the feed points.
func (c *Client) httpClient() *http.Client {
	base := c.HTTP
	if base == nil {
		base = http.DefaultClient
	}
	hc := *base
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !SameHost(req.URL, via[0].URL) {
			return &redirectError{host: req.URL.Host}
		}
		c.logger().Debug("redirected", "url", redact.URL(req.URL))
		if base.CheckRedirect != nil {
			return base.CheckRedirect(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &hc
}

// redirectError is a redirect to another host, which is not followed.
type redirectError struct{ host string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("the feed redirects to another host (%s); redirects are followed only within the feed's own host and port, so that the API key goes nowhere else", e.host)
}

// SameHost says whether a and b name the same host and port (the scheme's
// default port when none is written).
func SameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "http" {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
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
		return &retryable{err: ErrTruncated}
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
		return fmt.Errorf("%w (%s): set TRAFFICCTL_API_KEY (or FIVEONEONE_TOKEN) to a valid key, or the feed's own api_key; 511.org keys come from https://511.org/open-data/token", ErrKeyRefused, resp.Status)
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
