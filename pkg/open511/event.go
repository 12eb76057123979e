// Package open511 reads Open511 traffic-event feeds (511.org, DriveBC and
// others): it follows the pages of one snapshot and turns each event into
// a traffic.Event. The HTTP part is pkg/source's; this package knows the
// format only.
package open511

import (
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

var parsers fastjson.ParserPool

// DecodeEvent turns one event object into an Event; times without an
// offset are read in loc (UTC when nil). Problems with a single field (a
// bad timestamp, a bad geometry, a field of the wrong type) do not fail the
// event: the field becomes empty or NULL and a warning is returned for
// each. An event without an id, or one that is not a JSON object, returns
// an error and should be skipped. DecodeEvent modifies obj in place (see
// traffic.Parse); pass a copy to keep its bytes as they were.
func DecodeEvent(obj []byte, loc *time.Location) (traffic.Event, []string, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := traffic.Parse(p, "event", obj)
	if err != nil {
		return traffic.Event{}, nil, err
	}
	return decodeEvent(v, &traffic.Scratch{}, nil, loc)
}

// decodeEvent reads an event from its parsed tree. If stored reports that
// the event is already stored with this content, only its ID and
// ContentHash are filled in: nothing else of it is needed, and nothing
// else is allocated.
func decodeEvent(v *fastjson.Value, sc *traffic.Scratch, stored func(id, contentHash string) bool, loc *time.Location) (traffic.Event, []string, error) {
	id, raw, hash, err := sc.Identify("event", v, eventID)
	if err != nil {
		return traffic.Event{}, nil, err
	}
	if stored != nil && stored(id, hash) {
		return traffic.Unchanged(id, hash), nil, nil
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
		return traffic.CleanText(f.GetStringBytes())
	}
	e := traffic.Event{
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
			subtypes = append(subtypes, traffic.CleanText(s.GetStringBytes()))
		}
	}
	for i, r := range v.GetArray("roads") {
		name, dir := text(r, "name"), text(r, "direction")
		if i == 0 {
			e.Road, e.Direction = traffic.TrimRoad(name), traffic.Direction(dir)
		}
		if dir != "" {
			name += " (" + dir + ")"
		}
		roads = append(roads, name)
	}
	e.Category, e.Impact = category(e.EventType), impact(v.GetArray("roads"))
	for _, a := range v.GetArray("areas") {
		areas = append(areas, text(a, "name"))
	}
	e.EventSubtypes, e.Roads, e.Areas = strings.Join(subtypes, "; "), strings.Join(roads, "; "), strings.Join(areas, "; ")
	for _, ts := range []struct {
		name string
		dst  **time.Time
	}{{"created", &e.Created}, {"updated", &e.Updated}} {
		if s := text(v, ts.name); s != "" {
			if t, err := traffic.ParseTime(s, loc); err == nil {
				*ts.dst = &t
			} else {
				warn("%s %q is not a timestamp; stored as NULL", ts.name, s)
			}
		}
	}
	var bad []string
	e.StartsAt, e.EndsAt, bad = traffic.IntervalSpan(Intervals(v), loc)
	for _, iv := range bad {
		warn("schedule interval %q is not start/end; left out of starts_at and ends_at", iv)
	}
	if g := v.Get("geography"); g != nil && g.Type() != fastjson.TypeNull {
		geo, err := traffic.GeometryOf(g)
		if err != nil {
			warn("geography: %v; stored as NULL", err)
		} else {
			e.GeometryType, e.Geometry, e.Lat, e.Lon = geo.Type, geo.JSON, geo.Lat, geo.Lon
		}
	}
	return e, warnings, nil
}

// eventID is an event's id: the text of its "id".
func eventID(v *fastjson.Value) string {
	return strings.TrimSpace(traffic.CleanText(v.GetStringBytes("id")))
}

// Intervals are an event's schedule.intervals, the strings among them.
func Intervals(v *fastjson.Value) []string {
	var out []string
	for _, iv := range v.GetArray("schedule", "intervals") {
		if iv.Type() == fastjson.TypeString {
			out = append(out, string(iv.GetStringBytes()))
		}
	}
	return out
}

// category is the category of an Open511 event_type (any case).
func category(eventType string) string {
	switch traffic.Key(eventType) {
	case "incident":
		return traffic.CategoryIncident
	case "construction":
		return traffic.CategoryConstruction
	case "special_event":
		return traffic.CategorySpecialEvent
	case "weather_condition":
		return traffic.CategoryWeather
	case "road_condition":
		return traffic.CategoryRoadCondition
	}
	return traffic.CategoryOther
}

// impact is the worst state of an event's roads: a road CLOSED closes it,
// SOME_LANES_CLOSED or SINGLE_LANE_ALTERNATING closes lanes, and
// ALL_LANES_OPEN leaves them open; without a state it is unknown.
func impact(roads []*fastjson.Value) string {
	worst := 0 // unknown, lanes open, lanes closed, road closed
	for _, r := range roads {
		s := r.Get("state")
		if s == nil || s.Type() != fastjson.TypeString {
			continue
		}
		switch traffic.Key(string(s.GetStringBytes())) {
		case "closed":
			worst = max(worst, 3)
		case "some_lanes_closed", "single_lane_alternating":
			worst = max(worst, 2)
		case "all_lanes_open":
			worst = max(worst, 1)
		}
	}
	return [...]string{traffic.ImpactUnknown, traffic.ImpactLanesOpen, traffic.ImpactLanesClosed, traffic.ImpactRoadClosed}[worst]
}
