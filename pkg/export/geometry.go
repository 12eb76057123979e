package export

import (
	"fmt"

	"github.com/paulmach/orb"
	"github.com/valyala/fastjson"
)

// decodeGeoJSON reads a GeoJSON geometry (as stored: compact, with
// [lon, lat] positions) into orb's types, for WKB. It uses fastjson, as the
// feed decoder does, rather than orb/geojson, whose BSON support would add
// the MongoDB driver to trafficctl's dependencies. A third coordinate is
// dropped: WKB here is 2D, as orb is; the GeoJSON column keeps it.
func decodeGeoJSON(p *fastjson.Parser, text string) (orb.Geometry, error) {
	v, err := p.Parse(text)
	if err != nil {
		return nil, err
	}
	return geometryOf(v)
}

func geometryOf(v *fastjson.Value) (orb.Geometry, error) {
	typ := string(v.GetStringBytes("type"))
	if typ == "GeometryCollection" {
		parts := v.GetArray("geometries")
		c := make(orb.Collection, 0, len(parts))
		for _, part := range parts {
			g, err := geometryOf(part)
			if err != nil {
				return nil, err
			}
			c = append(c, g)
		}
		return c, nil
	}
	c := v.Get("coordinates")
	if c == nil {
		return nil, fmt.Errorf("%q geometry has no coordinates", typ)
	}
	var err error
	switch typ {
	case "Point":
		return point(c, &err), err
	case "MultiPoint":
		return orb.MultiPoint(points(c, &err)), err
	case "LineString":
		return orb.LineString(points(c, &err)), err
	case "MultiLineString":
		return orb.MultiLineString(lines(c, &err)), err
	case "Polygon":
		return polygon(c, &err), err
	case "MultiPolygon":
		list := array(c, &err)
		mp := make(orb.MultiPolygon, len(list))
		for i, p := range list {
			mp[i] = polygon(p, &err)
		}
		return mp, err
	}
	return nil, fmt.Errorf("unknown geometry type %q", typ)
}

// array, point, points, lines and polygon keep the first error in *err.
func array(v *fastjson.Value, err *error) []*fastjson.Value {
	a, e := v.Array()
	if e != nil && *err == nil {
		*err = e
	}
	return a
}

func point(v *fastjson.Value, err *error) orb.Point {
	a := array(v, err)
	if len(a) < 2 {
		if *err == nil {
			*err = fmt.Errorf("position %s is not [lon, lat]", v)
		}
		return orb.Point{}
	}
	x, e1 := a[0].Float64()
	y, e2 := a[1].Float64()
	if (e1 != nil || e2 != nil) && *err == nil {
		*err = fmt.Errorf("position %s is not [lon, lat]", v)
	}
	return orb.Point{x, y}
}

func points(v *fastjson.Value, err *error) []orb.Point {
	list := array(v, err)
	ps := make([]orb.Point, len(list))
	for i, p := range list {
		ps[i] = point(p, err)
	}
	return ps
}

func lines(v *fastjson.Value, err *error) []orb.LineString {
	list := array(v, err)
	ls := make([]orb.LineString, len(list))
	for i, l := range list {
		ls[i] = points(l, err)
	}
	return ls
}

func polygon(v *fastjson.Value, err *error) orb.Polygon {
	rings := lines(v, err)
	p := make(orb.Polygon, len(rings))
	for i, r := range rings {
		p[i] = orb.Ring(r)
	}
	return p
}
