// Package open511 reads Open511 traffic-event feeds (511.org, DriveBC and
// others): it fetches every page of one snapshot, decodes it as a stream and
// turns each event into a flat, typed Event. It knows nothing of databases.
package open511

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
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
	Raw           []byte // canonical JSON of the event object
	ContentHash   string // hex SHA-256 of Raw
}

// wireEvent holds the fields that become columns. Everything else stays in Raw.
type wireEvent struct {
	ID            json.RawMessage `json:"id"`
	Headline      string          `json:"headline"`
	EventType     string          `json:"event_type"`
	Severity      string          `json:"severity"`
	Status        string          `json:"status"`
	EventSubtypes []string        `json:"event_subtypes"`
	Description   string          `json:"description"`
	Created       string          `json:"created"`
	Updated       string          `json:"updated"`
	Roads         []struct {
		Name      string `json:"name"`
		Direction string `json:"direction"`
	} `json:"roads"`
	Areas []struct {
		Name string `json:"name"`
	} `json:"areas"`
	Geography json.RawMessage `json:"geography"`
}

// ErrNoID marks an event object without a usable id; it is skipped.
var ErrNoID = fmt.Errorf("event has no id")

// DecodeEvent turns one event object into an Event. Problems with a single
// field (a bad timestamp, a bad geometry) do not fail the event: the field
// becomes NULL and a warning is returned for each. An event without an id,
// or one that is not a JSON object, returns an error and should be skipped.
func DecodeEvent(obj []byte) (Event, []string, error) {
	var w wireEvent
	raw, top, fast := fastCanonical(obj, make([]member, 0, 32))
	in := obj
	var geography []byte
	if fast && raw[0] == '{' {
		// Reflection is slow per byte: only the members that become columns
		// are handed to it. Same members, same order, same errors.
		in, geography = wireSubset(obj, top)
	} else {
		raw = nil
	}
	if err := json.Unmarshal(in, &w); err != nil {
		return Event{}, nil, fmt.Errorf("event is not a JSON object of the Open511 shape: %w", err)
	}
	if geography != nil {
		w.Geography = geography
	}
	var id string
	if len(w.ID) > 0 && json.Unmarshal(w.ID, &id) != nil {
		id = "" // a number or object is not an Open511 id
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return Event{}, nil, ErrNoID
	}
	if raw == nil {
		var err error
		if raw, err = canonicalReference(obj); err != nil {
			return Event{}, nil, fmt.Errorf("event %s: %w", id, err)
		}
	}
	sum := sha256.Sum256(raw)
	e := Event{
		ID:            id,
		Headline:      w.Headline,
		EventType:     w.EventType,
		Severity:      w.Severity,
		Status:        w.Status,
		EventSubtypes: strings.Join(w.EventSubtypes, "; "),
		Description:   w.Description,
		Raw:           raw,
		ContentHash:   hex.EncodeToString(sum[:16]),
	}
	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("event %s: ", id)+fmt.Sprintf(format, args...))
	}
	roads := make([]string, 0, len(w.Roads))
	for _, r := range w.Roads {
		if r.Direction != "" {
			roads = append(roads, r.Name+" ("+r.Direction+")")
		} else {
			roads = append(roads, r.Name)
		}
	}
	e.Roads = strings.Join(roads, "; ")
	areas := make([]string, 0, len(w.Areas))
	for _, a := range w.Areas {
		areas = append(areas, a.Name)
	}
	e.Areas = strings.Join(areas, "; ")
	if w.Created != "" {
		if t, err := ParseTime(w.Created); err == nil {
			e.Created = &t
		} else {
			warn("created %q is not a timestamp; stored as NULL", w.Created)
		}
	}
	if w.Updated != "" {
		if t, err := ParseTime(w.Updated); err == nil {
			e.Updated = &t
		} else {
			warn("updated %q is not a timestamp; stored as NULL", w.Updated)
		}
	}
	if len(w.Geography) > 0 && !bytes.Equal(w.Geography, []byte("null")) {
		g, err := DecodeGeometry(w.Geography)
		if err != nil {
			warn("geography: %v; stored as NULL", err)
		} else {
			e.GeometryType, e.Geometry = g.Type, g.JSON
			e.Lat, e.Lon = g.Lat, g.Lon
		}
	}
	return e, warnings, nil
}

// wireNames are the members wireEvent reads.
var wireNames = []string{"id", "headline", "event_type", "severity", "status", "event_subtypes",
	"description", "created", "updated", "roads", "areas", "geography"}

// wireSubset is an object of obj's members that json.Unmarshal would match
// to a wireEvent field: names equal but for case, and, since Unmarshal
// folds some non-ASCII letters too, every key that is not ASCII. When all
// keys are ASCII, geography (a RawMessage, which cannot fail to decode)
// is left out and returned as Unmarshal would set it: the last member
// whose name matches.
func wireSubset(obj []byte, top []member) (subset, geography []byte) {
	ascii := true
	for _, m := range top {
		for _, b := range m.key {
			if b >= 0x80 {
				ascii = false
			}
		}
	}
	out := make([]byte, 0, 1024)
	out = append(out, '{')
	for _, m := range top {
		if !wireName(m.key) {
			continue
		}
		if ascii && len(m.key) == len("geography") && strings.EqualFold(string(m.key), "geography") {
			geography = obj[m.start:m.end:m.end]
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(string(m.key)) // a string always marshals
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, obj[m.start:m.end]...)
	}
	return append(out, '}'), geography
}

func wireName(key []byte) bool {
	for _, b := range key {
		if b >= 0x80 {
			return true
		}
	}
	for _, n := range wireNames {
		if len(n) == len(key) && strings.EqualFold(n, string(key)) {
			return true
		}
	}
	return false
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

// DecodeGeometry reads a GeoJSON geometry with [lon, lat] coordinates.
// Its position is the point itself or the first vertex of a line, polygon
// or multi-geometry.
func DecodeGeometry(b []byte) (Geometry, error) {
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return Geometry{}, fmt.Errorf("not a GeoJSON geometry: %w", err)
	}
	depth, ok := geometryDepth[g.Type]
	if !ok {
		return Geometry{}, fmt.Errorf("unsupported geometry type %q", g.Type)
	}
	var coords any
	if err := json.Unmarshal(g.Coordinates, &coords); err != nil {
		return Geometry{}, fmt.Errorf("%s coordinates: %w", g.Type, err)
	}
	first := coords
	for i := 0; i < depth; i++ {
		list, ok := first.([]any)
		if !ok || len(list) == 0 {
			return Geometry{}, fmt.Errorf("%s has no coordinates", g.Type)
		}
		first = list[0]
	}
	pos, ok := first.([]any)
	if !ok || len(pos) < 2 {
		return Geometry{}, fmt.Errorf("%s position is not [lon, lat]", g.Type)
	}
	lon, ok1 := pos[0].(float64)
	lat, ok2 := pos[1].(float64)
	if !ok1 || !ok2 || math.Abs(lon) > 180 || math.Abs(lat) > 90 {
		return Geometry{}, fmt.Errorf("%s position %v is not a valid [lon, lat]", g.Type, pos)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, g.Coordinates); err != nil {
		return Geometry{}, err
	}
	typ, _ := json.Marshal(g.Type)
	return Geometry{
		Type: g.Type,
		JSON: `{"type":` + string(typ) + `,"coordinates":` + compact.String() + `}`,
		Lat:  &lat,
		Lon:  &lon,
	}, nil
}

// geometryDepth is how many levels of arrays lie above the first position.
var geometryDepth = map[string]int{
	"Point": 0, "LineString": 1, "MultiPoint": 1,
	"MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3,
}

// Canonical returns obj as compact JSON with object keys sorted and numbers
// kept as written, so that key order and white space do not change an
// event's content hash.
//
// The output is exactly what decoding into map[string]any (with UseNumber)
// and encoding again without HTML escaping would give: canonicalReference
// is that definition. A fetch canonicalises every event of every run, and
// the round trip through a tree of maps was most of a fetch's CPU time, so
// fastCanonical rewrites the bytes directly and hands anything unusual
// (escapes, non-ASCII text, invalid JSON) back to the reference.
func Canonical(obj []byte) ([]byte, error) {
	if out, _, ok := fastCanonical(obj, nil); ok {
		return out, nil
	}
	return canonicalReference(obj)
}

func canonicalReference(obj []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// member is one top-level member of an object: its decoded key, and its
// value as a span of the input.
type member struct {
	key        []byte
	start, end int
}

// canonicalizer rewrites JSON into canonical form in one pass. It gives up
// (ok false) on anything it does not handle exactly like the reference.
type canonicalizer struct {
	in      []byte
	i       int
	out     []byte
	scratch []byte
	top     []member // the top-level members, when asked for
	wantTop bool
}

// fastCanonical returns the canonical form of obj and, if top is not nil,
// appends obj's top-level members to it. ok is false when obj needs the
// reference implementation (or is not valid JSON).
func fastCanonical(obj []byte, top []member) (out []byte, members []member, ok bool) {
	c := canonicalizer{in: obj, out: make([]byte, 0, len(obj)), top: top, wantTop: top != nil}
	c.space()
	if !c.value(0) {
		return nil, nil, false
	}
	c.space()
	if c.i != len(c.in) {
		return nil, nil, false
	}
	return c.out, c.top, true
}

func (c *canonicalizer) space() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(depth int) bool {
	if c.i >= len(c.in) || depth > 1000 {
		return false
	}
	switch b := c.in[c.i]; {
	case b == '{':
		return c.object(depth)
	case b == '[':
		return c.array(depth)
	case b == '"':
		s, _, ok := c.str()
		if ok {
			c.out = append(c.out, s...)
		}
		return ok
	case b == '-' || (b >= '0' && b <= '9'):
		start := c.i
		if !c.number() {
			return false
		}
		c.out = append(c.out, c.in[start:c.i]...)
		return true
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(c.in[c.i:], []byte(lit)) {
				c.out = append(c.out, lit...)
				c.i += len(lit)
				return true
			}
		}
		return false
	}
}

// str reads a string literal and returns it as the encoder writes it, and
// its decoded text. Plain printable ASCII is copied; a string with escapes
// or other bytes is decoded and encoded again by encoding/json, which
// normalises them (\u00e9 becomes é, invalid UTF-8 becomes U+FFFD).
func (c *canonicalizer) str() (enc, text []byte, ok bool) {
	start := c.i
	j := c.i + 1
	for ; j < len(c.in); j++ {
		b := c.in[j]
		if b == '"' {
			c.i = j + 1
			return c.in[start:c.i], c.in[start+1 : j], true
		}
		if b == '\\' || b < 0x20 || b >= 0x80 {
			break
		}
	}
	for ; j < len(c.in); j++ { // find the end; Unmarshal validates
		if c.in[j] == '\\' {
			j++
		} else if c.in[j] == '"' {
			break
		}
	}
	if j >= len(c.in) {
		return nil, nil, false
	}
	var v string
	if json.Unmarshal(c.in[start:j+1], &v) != nil {
		return nil, nil, false
	}
	c.i = j + 1
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if e.Encode(v) != nil {
		return nil, nil, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), []byte(v), true
}

// number skips a number after checking it against the JSON grammar; it is
// copied as written, as json.Number keeps it.
func (c *canonicalizer) number() bool {
	in, j := c.in, c.i
	digits := func() bool {
		k := j
		for j < len(in) && in[j] >= '0' && in[j] <= '9' {
			j++
		}
		return j > k
	}
	if in[j] == '-' {
		j++
	}
	if j < len(in) && in[j] == '0' {
		j++
	} else if !digits() {
		return false
	}
	if j < len(in) && in[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < len(in) && (in[j] == 'e' || in[j] == 'E') {
		j++
		if j < len(in) && (in[j] == '+' || in[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	c.i = j
	return true
}

func (c *canonicalizer) array(depth int) bool {
	c.i++ // [
	c.out = append(c.out, '[')
	c.space()
	if c.i < len(c.in) && c.in[c.i] == ']' {
		c.i++
		c.out = append(c.out, ']')
		return true
	}
	for {
		c.space()
		if !c.value(depth + 1) {
			return false
		}
		c.space()
		if c.i >= len(c.in) {
			return false
		}
		switch c.in[c.i] {
		case ',':
			c.i++
			c.out = append(c.out, ',')
		case ']':
			c.i++
			c.out = append(c.out, ']')
			return true
		default:
			return false
		}
	}
}

// span is one member written to out: its decoded key and where it lies.
type span struct {
	key        []byte
	start, end int // the member in out, key through value
}

// object writes the members in input order, then, unless they already are
// in order, rewrites them sorted by key. A repeated key keeps its last
// value, as decoding into a map does.
func (c *canonicalizer) object(depth int) bool {
	c.i++ // {
	base := len(c.out)
	c.out = append(c.out, '{')
	c.space()
	if c.i < len(c.in) && c.in[c.i] == '}' {
		c.i++
		c.out = append(c.out, '}')
		return true
	}
	var stack [16]span
	spans := stack[:0]
	sorted := true
	for {
		c.space()
		if c.i >= len(c.in) || c.in[c.i] != '"' {
			return false
		}
		key, text, ok := c.str()
		if !ok {
			return false
		}
		c.space()
		if c.i >= len(c.in) || c.in[c.i] != ':' {
			return false
		}
		c.i++
		c.space()
		start := len(c.out)
		c.out = append(c.out, key...)
		c.out = append(c.out, ':')
		vstart := c.i
		if !c.value(depth + 1) {
			return false
		}
		if depth == 0 && c.wantTop {
			c.top = append(c.top, member{key: text, start: vstart, end: c.i})
		}
		if n := len(spans); n > 0 && bytes.Compare(spans[n-1].key, text) >= 0 {
			sorted = false
		}
		spans = append(spans, span{key: text, start: start, end: len(c.out)})
		c.space()
		if c.i >= len(c.in) {
			return false
		}
		if c.in[c.i] == '}' {
			c.i++
			break
		}
		if c.in[c.i] != ',' {
			return false
		}
		c.i++
		c.out = append(c.out, ',')
	}
	if !sorted {
		// The encoder sorts a map's keys by their decoded bytes.
		slices.SortStableFunc(spans, func(a, b span) int { return bytes.Compare(a.key, b.key) })
		c.scratch = append(c.scratch[:0], c.out[base+1:]...)
		shift := base + 1
		c.out = c.out[:base+1]
		for k, sp := range spans {
			if k+1 < len(spans) && bytes.Equal(spans[k+1].key, sp.key) {
				continue // a later duplicate wins
			}
			if len(c.out) > base+1 {
				c.out = append(c.out, ',')
			}
			c.out = append(c.out, c.scratch[sp.start-shift:sp.end-shift]...)
		}
	}
	c.out = append(c.out, '}')
	return true
}

// readPage reads one response body and hands its events to emit. The
// common case, a well-formed page, is split here in one pass over the
// bytes (a page is at most PageSize events, so holding it is cheap);
// anything else (a read error, a body that is not plain valid JSON of the
// expected shape) is decoded by the streaming decodePage over the same
// bytes and the same read error, so errors read exactly as before.
func readPage(r io.Reader, emit func(json.RawMessage)) (pageInfo, error) {
	data, rerr := io.ReadAll(r)
	if rerr == nil {
		if page, events, ok := splitPage(data); ok {
			for _, e := range events {
				emit(e)
			}
			return page, nil
		}
	}
	return decodePage(io.MultiReader(bytes.NewReader(data), errReader{rerr}), emit)
}

// errReader ends a MultiReader with the error the body read ended with.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// splitPage finds the events of a page body as slices of it, and its
// pagination. ok is false whenever decodePage might answer differently.
func splitPage(data []byte) (page pageInfo, events []json.RawMessage, ok bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s := skipper{in: data}
	s.space()
	if !s.byte('{') {
		return page, nil, false
	}
	sawEvents := false
	for first := true; ; first = false {
		s.space()
		if first && s.byte('}') {
			break
		}
		key, ok := s.plainString()
		if !ok || !s.colon() {
			return page, nil, false
		}
		start := s.i
		switch key {
		case "events":
			sawEvents = true
			if s.literal("null") {
				break
			}
			if !s.byte('[') {
				return page, nil, false
			}
			s.space()
			if !s.byte(']') {
				for {
					s.space()
					at := s.i
					if !s.value(0) {
						return page, nil, false
					}
					events = append(events, json.RawMessage(data[at:s.i:s.i]))
					s.space()
					if s.byte(']') {
						break
					}
					if !s.byte(',') {
						return page, nil, false
					}
				}
			}
		default:
			if !s.value(0) {
				return page, nil, false
			}
			if key == "pagination" && json.Unmarshal(data[start:s.i], &page.Pagination) != nil {
				return page, nil, false
			}
		}
		s.space()
		if s.byte('}') {
			break
		}
		if !s.byte(',') {
			return page, nil, false
		}
	}
	s.space()
	return page, events, sawEvents && s.i == len(data)
}

// skipper checks and skips JSON values.
type skipper struct {
	in []byte
	i  int
}

func (s *skipper) space() {
	for s.i < len(s.in) && (s.in[s.i] == ' ' || s.in[s.i] == '\t' || s.in[s.i] == '\n' || s.in[s.i] == '\r') {
		s.i++
	}
}

func (s *skipper) byte(b byte) bool {
	if s.i < len(s.in) && s.in[s.i] == b {
		s.i++
		return true
	}
	return false
}

func (s *skipper) colon() bool {
	s.space()
	ok := s.byte(':')
	s.space()
	return ok
}

func (s *skipper) literal(lit string) bool {
	if bytes.HasPrefix(s.in[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString reads a string without escapes (a key decodePage compares).
func (s *skipper) plainString() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for ; s.i < len(s.in); s.i++ {
		switch b := s.in[s.i]; {
		case b == '"':
			s.i++
			return string(s.in[start : s.i-1]), true
		case b == '\\' || b < 0x20:
			return "", false
		}
	}
	return "", false
}

func (s *skipper) str() bool {
	if !s.byte('"') {
		return false
	}
	for s.i < len(s.in) {
		b := s.in[s.i]
		switch {
		case b == '"':
			s.i++
			return true
		case b < 0x20:
			return false
		case b == '\\':
			if s.i+1 >= len(s.in) {
				return false
			}
			switch s.in[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.in) {
					return false
				}
				for _, h := range s.in[s.i+2 : s.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		default:
			s.i++ // any other byte: the decoder takes invalid UTF-8 too
		}
	}
	return false
}

func (s *skipper) value(depth int) bool {
	if s.i >= len(s.in) || depth > 1000 {
		return false
	}
	switch b := s.in[s.i]; {
	case b == '"':
		return s.str()
	case b == '{' || b == '[':
		end := byte('}')
		if b == '[' {
			end = ']'
		}
		s.i++
		s.space()
		if s.byte(end) {
			return true
		}
		for {
			s.space()
			if b == '{' && !(s.str() && s.colon()) {
				return false
			}
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte(end) {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case b == '-' || (b >= '0' && b <= '9'):
		c := canonicalizer{in: s.in, i: s.i}
		if !c.number() {
			return false
		}
		s.i = c.i
		return true
	default:
		return s.literal("true") || s.literal("false") || s.literal("null")
	}
}
