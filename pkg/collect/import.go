package collect

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// Archived is one archived feed body (an Open511 page, a bare list of
// Open511 events, or a WZDx document; plain or gzip) and when it was
// fetched.
type Archived struct {
	Path       string
	ObservedAt time.Time
}

// Archive answers a feed decoder's request with the body of the archived
// file being imported, in place of the network: the decoder, its checks,
// the body limit and the store's run are the fetch's own. Its Client is
// the decoder's HTTP client.
type Archive struct {
	// Open511 says the decoder is Open511's: a file that is a bare list of
	// events is served as the page {"events": [...]}.
	Open511 bool
	// MaxBody is the feed's body limit (0: source.DefaultMaxBody): a bare
	// list up to it is checked before it is wrapped, so that a syntax
	// error's offset is the file's.
	MaxBody int64

	mu      sync.Mutex
	current string // the file of the run under way
	served  bool
}

// ErrNextPage is the answer to a request for a page after the archived one.
var ErrNextPage = errors.New("the archived page links to a next page (pagination.next_url), and one file holds one complete snapshot: import a file that holds every event")

// Client is an HTTP client whose every request is answered by a.
func (a *Archive) Client() *http.Client { return &http.Client{Transport: a} }

// Name is the file:// URL of the file being imported, what the decoder's
// errors call their source (source.Client.Name).
func (a *Archive) Name() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fileURL(a.current)
}

// fileURL is path as an absolute file:// URL.
func fileURL(path string) string {
	abs, _ := filepath.Abs(path)
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

func (a *Archive) open(path string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current, a.served = path, false
}

// RoundTrip serves the current file once, decompressed if it is gzip.
func (a *Archive) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	path, served := a.current, a.served
	a.served = true
	a.mu.Unlock()
	if served {
		return nil, ErrNextPage
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the archived file: %w", err)
	}
	br := bufio.NewReader(f)
	closer := io.Closer(f)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("the archived file is not valid gzip: %w", err)
		}
		br, closer = bufio.NewReader(zr), multiCloser{zr, f}
	}
	var body io.Reader = br
	if a.Open511 && startsList(br) {
		// The list is the page's events; the decoder still checks it all.
		// A byte-order mark would end up inside the page: it goes.
		skipped := 0
		if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
			skipped, _ = br.Discard(3)
		}
		list, err := a.checkList(br, skipped)
		if err != nil {
			closer.Close()
			return nil, err
		}
		body = io.MultiReader(bytes.NewReader([]byte(`{"events":`)), list, bytes.NewReader([]byte("}")))
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: -1,
		Body: readCloser{body, closer}, Request: req,
	}, nil
}

// checkList reads a bare list of events (up to the body limit; a longer
// one the decoder refuses for its size) and checks its JSON syntax here,
// where a bad byte's offset is still the file's (skipped bytes, a
// byte-order mark, were read before it), not the wrapped page's.
func (a *Archive) checkList(r io.Reader, skipped int) (io.Reader, error) {
	limit := a.MaxBody
	if limit <= 0 {
		limit = source.DefaultMaxBody
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the archived file: %w", err)
	}
	if int64(len(data)) > limit {
		return io.MultiReader(bytes.NewReader(data), r), nil
	}
	var syn *json.SyntaxError
	if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syn) {
		return nil, fmt.Errorf("the archived file is not valid JSON at byte %d: %v", syn.Offset+int64(skipped), syn)
	}
	return bytes.NewReader(data), nil
}

// startsList says whether the body's first character, after white space
// and a byte-order mark, opens a JSON array.
func startsList(r *bufio.Reader) bool {
	for n := 1; ; n++ {
		b, err := r.Peek(n)
		if err != nil || n > 4096 {
			return false
		}
		switch c := b[n-1]; {
		case c == '[':
			return true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xef || c == 0xbb || c == 0xbf:
		default:
			return false
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ErrNotAfter is wrapped when an archive is older than the feed's latest
// run: runs are appended in time order, which the ledger's order is.
var ErrNotAfter = errors.New("not after the feed's latest run")

// appendable says whether a run observed at can follow latest: after it,
// or at its very time when latest failed (the retry of a file that failed
// to import; the failed run stays in the ledger, as a failed fetch does).
func appendable(at time.Time, latest store.FetchRun) bool {
	return latest.StartedAt.IsZero() || at.After(latest.StartedAt) ||
		(at.Equal(latest.StartedAt) && latest.Status == store.RunFailed)
}

// notAfter is the sentence for an archive observed at or before latest.
func notAfter(feed string, a Archived, latest store.FetchRun) error {
	return fmt.Errorf("%s was observed at %s, %w (%s, %s): feed %s's runs can only be appended after it; import into a feed without later runs, or a fresh database",
		a.Path, a.ObservedAt.UTC().Format(time.RFC3339), ErrNotAfter, latest.StartedAt.UTC().Format(time.RFC3339), latest.Status, feed)
}

// Import stores each archive as one run of p.FeedName at its ObservedAt,
// in that order, through Run: the same decoder, snapshot semantics and
// ledger row as a fetch made then. p.Feed must read through a's Client.
// The archives must be in increasing time order and after the feed's
// latest run (or at its time if it failed), which is checked first and
// again under each run's lock; otherwise nothing more is imported. A file that fails is recorded as a
// failed run, as a fetch would be, and the rest are still imported; done
// is told about each run. The error joins the runs' errors.
func Import(ctx context.Context, p Params, a *Archive, archives []Archived, done func(Archived, Summary, error)) error {
	if p.DryRun || p.Store == nil {
		return errors.New("an import writes runs: it has no dry run")
	}
	if _, err := p.Store.Migrate(ctx); err != nil {
		return err
	}
	latest, err := p.Store.LastRun(ctx, p.FeedName)
	if err != nil {
		return err
	}
	for i, arc := range archives {
		if i > 0 && !arc.ObservedAt.After(archives[i-1].ObservedAt) {
			return fmt.Errorf("%s was observed at %s, not after %s (%s): list the files in the order they were fetched",
				arc.Path, arc.ObservedAt.UTC().Format(time.RFC3339), archives[i-1].Path, archives[i-1].ObservedAt.UTC().Format(time.RFC3339))
		}
	}
	if len(archives) > 0 && !appendable(archives[0].ObservedAt, latest) {
		return notAfter(p.FeedName, archives[0], latest)
	}
	var failed []error
	for _, arc := range archives {
		if ctx.Err() != nil {
			break
		}
		run := p
		at := arc.ObservedAt.UTC()
		run.Now = func() time.Time { return at }
		run.SourceURL = fileURL(arc.Path)
		run.Locked = func(ctx context.Context) error {
			// Another process may have fetched since the first check.
			latest, err := p.Store.LastRun(ctx, p.FeedName)
			if err == nil && !appendable(at, latest) {
				err = notAfter(p.FeedName, arc, latest)
			}
			return err
		}
		a.open(arc.Path)
		sum, err := Run(ctx, run)
		done(arc, sum, err)
		switch {
		case err == nil:
		case sum.RunID == 0 || ctx.Err() != nil:
			return fmt.Errorf("%s: %w", arc.Path, err) // nothing recorded (the lock, the database, the order): stop
		default:
			failed = append(failed, fmt.Errorf("%s: %w", arc.Path, err))
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return errors.Join(failed...)
}

// ManifestName is the file in a folder of archives that says when each was
// fetched: CSV with the header file,observed_at, one line per file (a path
// relative to the folder, an RFC 3339 time).
const ManifestName = "manifest.csv"

// ReadManifest reads dir's manifest, in time order.
func ReadManifest(dir string) ([]Archived, error) {
	path := filepath.Join(dir, ManifestName)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s (file,observed_at): give the time of a single file with --observed-at", dir, ManifestName)
		}
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 2
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(records) == 0 || records[0][0] != "file" || records[0][1] != "observed_at" {
		return nil, fmt.Errorf("%s: the first line must be the header file,observed_at", path)
	}
	var out []Archived
	for i, rec := range records[1:] {
		at, err := time.Parse(time.RFC3339, rec[1])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: observed_at %q is not an RFC 3339 time such as 2021-04-15T17:10:00Z", path, i+2, rec[1])
		}
		if rec[0] == "" || filepath.IsAbs(rec[0]) {
			return nil, fmt.Errorf("%s line %d: file %q must be a path relative to %s", path, i+2, rec[0], dir)
		}
		out = append(out, Archived{Path: filepath.Join(dir, rec[0]), ObservedAt: at})
	}
	slices.SortStableFunc(out, func(a, b Archived) int { return a.ObservedAt.Compare(b.ObservedAt) })
	return out, nil
}
