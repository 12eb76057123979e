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
	"math"
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
	if err := json.Unmarshal(obj, &w); err != nil {
		return Event{}, nil, fmt.Errorf("event is not a JSON object of the Open511 shape: %w", err)
	}
	var id string
	if len(w.ID) > 0 && json.Unmarshal(w.ID, &id) != nil {
		id = "" // a number or object is not an Open511 id
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return Event{}, nil, ErrNoID
	}
	raw, err := Canonical(obj)
	if err != nil {
		return Event{}, nil, fmt.Errorf("event %s: %w", id, err)
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
func Canonical(obj []byte) ([]byte, error) {
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
