// Package open511 reads Open511 traffic-event feeds (511.org, DriveBC and
// others): it fetches every page of one snapshot, decodes it and turns each
// event into a flat, typed Event. It knows nothing of databases.
package open511

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Event is one traffic event, flattened into the columns trafficctl stores.
// Raw keeps the whole object (canonical JSON), so nothing the feed sent is lost.
type Event struct {
	ID            string
	Headline      string
	EventType     string
	Severity      string
	Lat, Lon      *float64
	Status        string
	EventSubtypes string // joined with "; "
	Description   string
	Roads         string // "I-880 N (Northbound); CA-17 S (Southbound)"
	Areas         string // names joined with "; "
	Created       *time.Time
	Updated       *time.Time
	GeometryType  string
	Geometry      string // compact GeoJSON geometry: {"type":...,"coordinates":...}
	Raw           string // canonical JSON of the event object
	ContentHash   string // hex SHA-256 of Raw (first 16 bytes)
}

// ErrNoID marks an event object without a usable id; it is skipped.
var ErrNoID = errors.New("event has no id")

// The events of a snapshot are parsed with fastjson, which reads them into a
// tree without reflection: a fetch decodes every event of every run, and
// encoding/json's reflection and map building were most of a fetch's CPU.
var parsers fastjson.ParserPool

// DecodeEvent turns one event object into an Event. Problems with a single
// field (a bad timestamp, a bad geometry, a field of the wrong type) do not
// fail the event: the field becomes empty or NULL and a warning is returned
// for each. An event without an id, or one that is not a JSON object,
// returns an error and should be skipped.
func DecodeEvent(obj []byte) (Event, []string, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(obj)
	if err != nil {
		return Event{}, nil, fmt.Errorf("event is not valid JSON: %v", err)
	}
	return decodeEvent(v, &scratch{}, nil)
}

// scratch is the reusable working memory of one decoding goroutine: the
// canonical form is written into buf, and only copied out for an event
// that is kept whole.
type scratch struct {
	buf     []byte
	members []member // a stack of the objects being canonicalised
}

// decodeEvent reads an event from its parsed tree. If stored reports that
// the event is already stored with this content, only its ID and
// ContentHash are filled in: nothing else of it is needed, and nothing
// else is allocated.
func decodeEvent(v *fastjson.Value, sc *scratch, stored func(id, contentHash string) bool) (Event, []string, error) {
	if v.Type() != fastjson.TypeObject {
		return Event{}, nil, fmt.Errorf("event is a JSON %s, not an object", v.Type())
	}
	id := strings.TrimSpace(string(v.GetStringBytes("id")))
	if id == "" {
		return Event{}, nil, ErrNoID
	}
	raw, err := sc.appendCanonical(sc.buf[:0], v)
	if err != nil {
		return Event{}, nil, fmt.Errorf("event %s: %w", id, err)
	}
	sc.buf = raw
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:16])
	if stored != nil && stored(id, hash) {
		return Event{ID: id, ContentHash: hash}, nil, nil
	}
	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("event %s: ", id)+fmt.Sprintf(format, args...))
	}
	text := func(v *fastjson.Value, name string) string {
		f := v.Get(name)
		if f == nil || f.Type() == fastjson.TypeNull {
			return ""
		}
		if f.Type() != fastjson.TypeString {
			warn("%s is a JSON %s, not a string; stored as empty", name, f.Type())
			return ""
		}
		return string(f.GetStringBytes())
	}
	e := Event{
		ID:          id,
		Headline:    text(v, "headline"),
		EventType:   text(v, "event_type"),
		Severity:    text(v, "severity"),
		Status:      text(v, "status"),
		Description: text(v, "description"),
		Raw:         string(raw),
		ContentHash: hash,
	}
	var subtypes, roads, areas []string
	for _, s := range v.GetArray("event_subtypes") {
		if s.Type() == fastjson.TypeString {
			subtypes = append(subtypes, string(s.GetStringBytes()))
		}
	}
	for _, r := range v.GetArray("roads") {
		name, dir := text(r, "name"), text(r, "direction")
		if dir != "" {
			name += " (" + dir + ")"
		}
		roads = append(roads, name)
	}
	for _, a := range v.GetArray("areas") {
		areas = append(areas, text(a, "name"))
	}
	e.EventSubtypes, e.Roads, e.Areas = strings.Join(subtypes, "; "), strings.Join(roads, "; "), strings.Join(areas, "; ")
	for _, ts := range []struct {
		name string
		dst  **time.Time
	}{{"created", &e.Created}, {"updated", &e.Updated}} {
		if s := text(v, ts.name); s != "" {
			if t, err := ParseTime(s); err == nil {
				*ts.dst = &t
			} else {
				warn("%s %q is not a timestamp; stored as NULL", ts.name, s)
			}
		}
	}
	if g := v.Get("geography"); g != nil && g.Type() != fastjson.TypeNull {
		geo, err := geometryOf(g)
		if err != nil {
			warn("geography: %v; stored as NULL", err)
		} else {
			e.GeometryType, e.Geometry, e.Lat, e.Lon = geo.Type, geo.JSON, geo.Lat, geo.Lon
		}
	}
	return e, warnings, nil
}

// timeLayouts are the forms Open511 feeds write: RFC 3339 with seconds
// (DriveBC), and 511.org's minute precision ("2023-05-31T13:17Z"), which
// time.RFC3339 rejects.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
}

// ParseTime reads an Open511 timestamp and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 or Open511 timestamp", s)
}

// Geometry is a decoded GeoJSON geometry.
type Geometry struct {
	Type     string
	JSON     string   // compact {"type":...,"coordinates":...}, without crs
	Lat, Lon *float64 // the Point itself, or the first vertex
}

// geometryDepth is how many levels of arrays lie above the first position.
var geometryDepth = map[string]int{
	"Point": 0, "LineString": 1, "MultiPoint": 1,
	"MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3,
}

// DecodeGeometry reads a GeoJSON geometry with [lon, lat] coordinates.
// Its position is the point itself or the first vertex of a line, polygon
// or multi-geometry.
func DecodeGeometry(b []byte) (Geometry, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return Geometry{}, fmt.Errorf("not a GeoJSON geometry: %v", err)
	}
	return geometryOf(v)
}

func geometryOf(v *fastjson.Value) (Geometry, error) {
	typ := string(v.GetStringBytes("type"))
	depth, ok := geometryDepth[typ]
	if !ok {
		return Geometry{}, fmt.Errorf("unsupported geometry type %q", typ)
	}
	coords := v.Get("coordinates")
	if coords == nil {
		return Geometry{}, fmt.Errorf("%s has no coordinates", typ)
	}
	first := coords
	for i := 0; i < depth; i++ {
		list, err := first.Array()
		if err != nil || len(list) == 0 {
			return Geometry{}, fmt.Errorf("%s has no coordinates", typ)
		}
		first = list[0]
	}
	pos, err := first.Array()
	if err != nil || len(pos) < 2 {
		return Geometry{}, fmt.Errorf("%s position is not [lon, lat]", typ)
	}
	lon, err1 := pos[0].Float64()
	lat, err2 := pos[1].Float64()
	if err1 != nil || err2 != nil || math.Abs(lon) > 180 || math.Abs(lat) > 90 || math.IsNaN(lon) || math.IsNaN(lat) {
		return Geometry{}, fmt.Errorf("%s position %s is not a valid [lon, lat]", typ, first)
	}
	var sc scratch
	out, err := sc.appendCanonical([]byte(`{"type":`), v.Get("type"))
	if err == nil {
		out = append(out, `,"coordinates":`...)
		out, err = sc.appendCanonical(out, coords)
	}
	if err != nil {
		return Geometry{}, fmt.Errorf("%s coordinates: %w", typ, err)
	}
	return Geometry{Type: typ, JSON: string(append(out, '}')), Lat: &lat, Lon: &lon}, nil
}

// Canonical returns obj as compact JSON with object keys sorted and numbers
// kept as written, so that key order and white space do not change an
// event's content hash. Of repeated keys the last one counts. Its output is
// byte for byte what decoding into map[string]any (with UseNumber) and
// encoding again without HTML escaping gives (see canonical_test.go).
func Canonical(obj []byte) ([]byte, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(obj)
	if err != nil {
		return nil, err
	}
	var sc scratch
	return sc.appendCanonical(nil, v)
}

type member struct {
	key []byte
	val *fastjson.Value
}

func (sc *scratch) appendCanonical(dst []byte, v *fastjson.Value) ([]byte, error) {
	var err error
	switch v.Type() {
	case fastjson.TypeObject:
		// The members go on top of the stack, by index: nested objects push
		// above them and may move the stack.
		start := len(sc.members)
		v.GetObject().Visit(func(k []byte, val *fastjson.Value) { sc.members = append(sc.members, member{k, val}) })
		end := len(sc.members)
		// A stable sort keeps repeated keys in input order; the last wins.
		slices.SortStableFunc(sc.members[start:end], func(a, b member) int { return bytes.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i := start; i < end; i++ {
			m := sc.members[i]
			if i+1 < end && bytes.Equal(m.key, sc.members[i+1].key) {
				continue
			}
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.key)
			dst = append(dst, ':')
			if dst, err = sc.appendCanonical(dst, m.val); err != nil {
				sc.members = sc.members[:start]
				return nil, err
			}
		}
		sc.members = sc.members[:start]
		return append(dst, '}'), nil
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, item := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = sc.appendCanonical(dst, item); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		return appendString(dst, v.GetStringBytes()), nil
	case fastjson.TypeNumber:
		// Numbers are copied as written. fastjson also takes NaN and Inf,
		// which are not JSON (and PostgreSQL's jsonb refuses them).
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !json.Valid(dst[start:]) {
			return nil, fmt.Errorf("%s is not a JSON number", dst[start:])
		}
		return dst, nil
	default: // true, false, null
		return v.MarshalTo(dst), nil
	}
}

// appendString writes s as a JSON string, as encoding/json does without
// HTML escaping. Printable ASCII without quotes or backslashes, nearly all
// of a feed's text, is copied; anything else goes through encoding/json.
func appendString(dst, s []byte) []byte {
	plain := true
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	// Each invalid UTF-8 byte becomes U+FFFD, as encoding/json's decoder does.
	var text strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		text.WriteRune(r)
		s = s[size:]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(text.String()) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
