package open511

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

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
// hands each page's events to sink, in feed order. Events without an id are
// left out (counted as Skipped); an id met again is handed on again, and
// its later content counts. If stored is not nil, an event it reports as
// stored with this content is handed on as its ID and ContentHash only. If
// a page fails, or sink returns an error, Stream stops and returns that
// error; undoing what sink did is the caller's business (a transaction).
// The counts are those of the pages read, also on error.
func (f *Feed) Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func(events []traffic.Event) error) (traffic.Snapshot, error) {
	var snap traffic.Snapshot
	next, err := f.firstURL()
	if err != nil {
		return snap, err
	}
	maxPages := f.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	p := parsers.Get() // holds one page's tree at a time
	defer parsers.Put(p)
	var sc scratch
	seen, ids := map[string]bool{}, map[string]bool{}
	for next != nil {
		if snap.Pages == maxPages {
			return snap, fmt.Errorf("fetch page %d of %s: more than %d pages; raise source.max_pages if the feed is really this long", snap.Pages+1, redact.URL(next), maxPages)
		}
		if key := next.String(); seen[key] {
			return snap, fmt.Errorf("fetch page %d: the feed links back to %s, which was already read (pagination loops)", snap.Pages+1, redact.URL(next))
		} else {
			seen[key] = true
		}
		snap.Pages++
		var page []*fastjson.Value
		var following *url.URL
		// A bad next_url fails the page like a bad body, so the error
		// names the page that carried it, as the client names every page.
		err := f.Source.Get(ctx, next, "page "+strconv.Itoa(snap.Pages), func(body []byte) (err error) {
			var nextRef string
			if page, nextRef, err = readPage(p, body); err != nil {
				return err
			}
			following, err = nextURL(next, nextRef)
			return err
		})
		if err != nil {
			return snap, err
		}
		events := make([]traffic.Event, 0, len(page))
		for _, v := range page {
			e, warnings, err := decodeEvent(v, &sc, stored, f.Location)
			if f.accept(&snap, ids, e, warnings, err, snap.Pages) {
				events = append(events, e)
			}
		}
		if err := sink(events); err != nil {
			return snap, err
		}
		next = following
	}
	return snap, nil
}

func (f *Feed) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// accept counts one event object of page and logs its warnings; it reports
// whether the event is to be handed on (it has an id).
func (f *Feed) accept(snap *traffic.Snapshot, ids map[string]bool, e traffic.Event, warnings []string, err error, page int) bool {
	snap.Received++
	for _, w := range warnings {
		f.logger().Warn(w)
	}
	if err != nil {
		snap.Skipped++
		f.logger().Warn("skipping event", "page", page, "position", snap.Received, "reason", err.Error())
		return false
	}
	if ids[e.ID] {
		snap.Duplicates++
		f.logger().Warn("event appears twice in one snapshot; keeping the last", "id", e.ID, "page", page)
	}
	ids[e.ID] = true
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

// readPage checks that body is one Open511 page, an object with an
// "events" list, and returns the events, parsed by p (which holds them
// until its next parse), and pagination.next_url. Of repeated members the
// last counts, as in traffic.Canonical.
func readPage(p *fastjson.Parser, body []byte) (events []*fastjson.Value, next string, err error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, "", source.InvalidJSON(body)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, "", errors.New("the response is JSON but not an object; expected an Open511 body with \"events\"")
	}
	var list, pagination *fastjson.Value
	v.GetObject().Visit(func(key []byte, val *fastjson.Value) {
		switch string(key) {
		case "events":
			list = val
		case "pagination":
			pagination = val
		}
	})
	switch {
	case list == nil:
		return nil, "", errors.New("the response has no \"events\" member; is this an Open511 events URL?")
	case list.Type() == fastjson.TypeNull:
		// Not an empty snapshot: taken as one, it would close every event.
		return nil, "", errors.New("\"events\" is null, not a list")
	case list.Type() != fastjson.TypeArray:
		return nil, "", errors.New("\"events\" is not a list")
	}
	if n := pagination.Get("next_url"); n != nil && n.Type() != fastjson.TypeNull {
		if n.Type() != fastjson.TypeString {
			return nil, "", fmt.Errorf("pagination.next_url is a JSON %s, not a URL", n.Type())
		}
		next = string(n.GetStringBytes())
	}
	return list.GetArray(), next, nil
}
