package traffic

import (
	"fmt"
	"math"

	"github.com/valyala/fastjson"
)

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
	return GeometryOf(v)
}

// GeometryOf reads a parsed GeoJSON geometry.
func GeometryOf(v *fastjson.Value) (Geometry, error) {
	typ := string(v.GetStringBytes("type"))
	depth, ok := geometryDepth[typ]
	if !ok {
		return Geometry{}, fmt.Errorf("unsupported geometry type %q", CleanText([]byte(typ)))
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
	var sc Scratch
	out, err := sc.AppendCanonical([]byte(`{"type":`), v.Get("type"))
	if err == nil {
		out = append(out, `,"coordinates":`...)
		out, err = sc.AppendCanonical(out, coords)
	}
	if err != nil {
		return Geometry{}, fmt.Errorf("%s coordinates: %w", typ, err)
	}
	return Geometry{Type: typ, JSON: string(append(out, '}')), Lat: &lat, Lon: &lon}, nil
}
