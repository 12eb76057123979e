package wzdx

import (
	"errors"
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// readDocument checks that body is one WZDx FeatureCollection and returns
// its features, parsed by p (which holds them until its next parse).
func readDocument(p *fastjson.Parser, body []byte) ([]*fastjson.Value, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, source.InvalidJSON(body)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("the response is a JSON %s, not a WZDx FeatureCollection", v.Type())
	}
	// Of repeated members the last counts, as in traffic.Canonical.
	var typ, features *fastjson.Value
	v.GetObject().Visit(func(key []byte, val *fastjson.Value) {
		switch string(key) {
		case "type":
			typ = val
		case "features":
			features = val
		}
	})
	switch {
	case typ != nil && typ.Type() != fastjson.TypeString:
		return nil, fmt.Errorf("the response is a JSON object whose type is a JSON %s, not a WZDx FeatureCollection", typ.Type())
	case typ != nil && string(typ.GetStringBytes()) != "FeatureCollection":
		return nil, fmt.Errorf("the response is a JSON object with type %q, not a WZDx FeatureCollection", clip(string(typ.GetStringBytes())))
	case features == nil:
		return nil, errors.New(`the response is a JSON object with no "features" list; is this a WZDx feed URL?`)
	case features.Type() == fastjson.TypeNull:
		return nil, errors.New(`the response's "features" is null, not a list (an empty WZDx feed has "features": [])`)
	case features.Type() != fastjson.TypeArray:
		return nil, fmt.Errorf(`the response's "features" is a JSON %s, not a list`, features.Type())
	case typ == nil:
		return nil, errors.New(`the response has a "features" list but no "type": "FeatureCollection"; is this a WZDx feed URL?`)
	}
	return features.GetArray(), nil
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return traffic.CleanText([]byte(s))
}
