package wzdx

import (
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

var parsers fastjson.ParserPool

// decoder is the reusable working memory of the goroutine that decodes a
// document's features (the canonical form is written into the Scratch's
// buffer, and only copied out for an event that is kept whole).
type decoder struct {
	p *fastjson.Parser
	traffic.Scratch
	loc *time.Location // for times without an offset; nil is UTC
}

// decode turns one feature into an Event. If stored reports that the event
// is already stored with this content, only its ID and ContentHash are
// filled in: nothing else of it is needed, and nothing else is allocated.
// A field that cannot be read becomes empty or NULL, with a warning; a
// feature without an id, or one that is not an object, returns an error
// and is to be skipped.
func (d *decoder) decode(obj []byte, stored func(id, contentHash string) bool) (traffic.Event, []string, error) {
	v, err := traffic.Parse(d.p, "feature", obj)
	if err != nil {
		return traffic.Event{}, nil, err
	}
	id, raw, hash, err := d.Identify("feature", v, featureID)
	if err != nil {
		return traffic.Event{}, nil, err
	}
	props := v.Get("properties")
	if stored != nil && stored(id, hash) {
		return traffic.Unchanged(id, hash), nil, nil
	}
	e := traffic.Event{ID: id, Raw: string(raw), ContentHash: hash}
	f := fields{id: id}
	if props != nil && props.Type() != fastjson.TypeObject {
		f.warn("properties is a JSON %s, not an object; its fields are left empty", props.Type())
		props = nil
	}
	// WZDx 4 keeps the common fields in properties.core_details; 3.x has
	// them in properties itself, and some 4.x feeds still write them there.
	core := props.Get("core_details")
	if core != nil && core.Type() != fastjson.TypeObject {
		f.warn("core_details is a JSON %s, not an object; read from properties instead", core.Type())
		core = nil
	}
	prop := func(name string) field { return field{props.Get(name), "properties.", name} }
	coreProp := func(name string) field {
		if c := core.Get(name); c != nil && c.Type() != fastjson.TypeNull {
			return field{c, "core_details.", name}
		}
		return prop(name)
	}

	e.EventType = f.text(coreProp("event_type"))
	if e.EventType == "" && core == nil {
		// In 3.x event_type is optional: it came with detours, and a road
		// event without one is a work zone.
		e.EventType = "work-zone"
	}
	e.Description = f.text(coreProp("description"))
	e.Severity = f.text(prop("vehicle_impact")) // WZDx has no severity
	e.Status = f.text(prop("event_status"))

	var subtypes []string
	for _, w := range f.array(prop("types_of_work")) {
		if s := f.text(field{w.Get("type_name"), "properties.types_of_work[].", "type_name"}); s != "" {
			subtypes = append(subtypes, s)
		}
	}
	e.EventSubtypes = strings.Join(subtypes, "; ")

	sentDirection := f.text(coreProp("direction"))
	direction := strings.TrimSpace(sentDirection)
	switch strings.ToLower(direction) {
	case "unknown", "undefined": // 4.1's values for "not known": no information
		direction = ""
	}
	var names []string
	roadNames := coreProp("road_names")
	nameList := f.array(roadNames)
	for _, n := range nameList {
		if s := strings.TrimSpace(f.text(field{n, roadNames.in, "road_names[]"})); s != "" {
			names = append(names, s)
		}
	}
	if names == nil && core == nil {
		// WZDx 3.0 had one road_number and one road_name.
		for _, name := range []string{"road_number", "road_name"} {
			if s := strings.TrimSpace(f.text(prop(name))); s != "" {
				names = append(names, s)
			}
		}
	}
	roads := make([]string, len(names))
	for i, n := range names {
		roads[i] = n
		if direction != "" {
			roads[i] += " (" + direction + ")"
		}
	}
	e.Roads = strings.Join(roads, "; ")
	e.Road, e.Direction = firstRoad(nameList, core == nil, prop), traffic.Direction(sentDirection)
	e.Category, e.Impact = category(e.EventType), impact(props.Get("vehicle_impact"))
	if e.Headline = f.text(coreProp("name")); e.Headline == "" {
		e.Headline = headline(e.EventType, names, direction)
	}

	e.Created = f.time(coreProp("creation_date"), d.loc)
	e.Updated = f.time(coreProp("update_date"), d.loc)
	e.StartsAt = f.time(prop("start_date"), d.loc)
	e.EndsAt = f.time(prop("end_date"), d.loc)
	if e.StartsAt != nil && e.EndsAt != nil && e.EndsAt.Before(*e.StartsAt) {
		f.warn("end_date %s is before start_date %s; both kept as received", e.EndsAt.Format(time.RFC3339Nano), e.StartsAt.Format(time.RFC3339Nano))
	}

	if g := v.Get("geometry"); g != nil && g.Type() != fastjson.TypeNull {
		geo, err := traffic.GeometryOf(g)
		if err != nil {
			f.warn("geometry: %v; stored as NULL", err)
		} else {
			e.GeometryType, e.Geometry, e.Lat, e.Lon = geo.Type, geo.JSON, geo.Lat, geo.Lon
		}
	}
	return e, f.warnings, nil
}

// featureID is a feature's id, or in WZDx 3.0 (deprecated in 3.1) its
// properties.road_event_id.
func featureID(v *fastjson.Value) string {
	if id := idText(v.Get("id")); id != "" {
		return id
	}
	return idText(v.Get("properties", "road_event_id"))
}

// idText is a feature's id: a string, or a number as it is written.
func idText(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		return strings.TrimSpace(traffic.CleanText(v.GetStringBytes()))
	case fastjson.TypeNumber:
		return string(v.MarshalTo(nil))
	}
	return ""
}

// headline is what a feature without a name is called: its type, roads
// and direction, e.g. "work-zone on I-80, I-35 northbound".
func headline(eventType string, roads []string, direction string) string {
	if eventType == "" {
		eventType = "road event"
	}
	h := eventType
	if len(roads) > 0 {
		h += " on " + strings.Join(roads, ", ")
	}
	if direction != "" {
		h += " " + direction
	}
	return h
}

// field is one member of a feature and where it is, for warnings (in and
// name are joined only for one).
type field struct {
	v        *fastjson.Value // nil if absent
	in, name string          // "core_details.", "road_names[]"
}

// fields reads the fields of one feature and collects warnings about those
// that cannot be read.
type fields struct {
	id       string
	warnings []string
}

func (f *fields) warn(format string, args ...any) {
	f.warnings = append(f.warnings, fmt.Sprintf("feature %s: ", f.id)+fmt.Sprintf(format, args...))
}

// text is a string field's text; null or absent is empty.
func (f *fields) text(fd field) string {
	if fd.v == nil || fd.v.Type() == fastjson.TypeNull {
		return ""
	}
	if fd.v.Type() != fastjson.TypeString {
		f.warn("%s is a JSON %s, not a string; stored as empty", fd.in+fd.name, fd.v.Type())
		return ""
	}
	return traffic.CleanText(fd.v.GetStringBytes())
}

// array is a list field's elements; null or absent is none.
func (f *fields) array(fd field) []*fastjson.Value {
	if fd.v == nil || fd.v.Type() == fastjson.TypeNull {
		return nil
	}
	list, err := fd.v.Array()
	if err != nil {
		f.warn("%s is a JSON %s, not a list; left out", fd.in+fd.name, fd.v.Type())
	}
	return list
}

// time is a timestamp field in UTC; one without an offset is read in loc.
// Null, absent or unreadable is nil.
func (f *fields) time(fd field, loc *time.Location) *time.Time {
	s := f.text(fd)
	if s == "" {
		return nil
	}
	t, err := traffic.ParseTime(s, loc)
	if err != nil {
		f.warn("%s %q is not a timestamp; stored as NULL", fd.in+fd.name, s)
		return nil
	}
	return &t
}

// firstRoad is the name of road_names[0] (trimmed), or, in WZDx 3.0 (no
// core_details) without road names, its road_number or else road_name.
func firstRoad(names []*fastjson.Value, v3 bool, prop func(string) field) string {
	if len(names) > 0 {
		if names[0].Type() == fastjson.TypeString {
			return traffic.TrimRoad(string(names[0].GetStringBytes()))
		}
		return ""
	}
	if !v3 {
		return ""
	}
	for _, name := range []string{"road_number", "road_name"} {
		if v := prop(name).v; v != nil && v.Type() == fastjson.TypeString {
			if s := traffic.TrimRoad(string(v.GetStringBytes())); s != "" {
				return s
			}
		}
	}
	return ""
}

// category is the category of a WZDx event_type (after the 3.x default,
// work-zone).
func category(eventType string) string {
	switch traffic.Key(eventType) {
	case "work-zone":
		return traffic.CategoryConstruction
	case "detour":
		return traffic.CategoryDetour
	case "restriction":
		return traffic.CategoryRestriction
	case "incident":
		return traffic.CategoryIncident
	case "special-event":
		return traffic.CategorySpecialEvent
	}
	return traffic.CategoryOther
}

// impact is what a vehicle_impact does to the road: all lanes closed
// close it; lanes closed in any way, alternating one way, flagging or a
// temporary signal (one lane left, taking turns) close lanes; all lanes
// open, shifted or not, leave them open; anything else is unknown.
func impact(v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeString {
		return traffic.ImpactUnknown
	}
	switch traffic.Key(string(v.GetStringBytes())) {
	case "all-lanes-closed":
		return traffic.ImpactRoadClosed
	case "some-lanes-closed", "some-lanes-closed-merge-left", "some-lanes-closed-merge-right", "some-lanes-closed-split",
		"alternating-one-way", "flagging", "temporary-traffic-signal":
		return traffic.ImpactLanesClosed
	case "all-lanes-open", "all-lanes-open-shift-left", "all-lanes-open-shift-right":
		return traffic.ImpactLanesOpen
	}
	return traffic.ImpactUnknown
}
