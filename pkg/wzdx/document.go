package wzdx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/valyala/fastjson"

	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// readDocument checks that body is one WZDx FeatureCollection and returns
// its features, parsed by p (which holds them until its next parse).
func readDocument(p *fastjson.Parser, body []byte) ([]*fastjson.Value, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, invalid(body)
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

// invalid says in one sentence why a body that fastjson refused is not one
// JSON value. It runs only for bad bodies, so it may be slow: it asks
// encoding/json, whose errors tell a truncated body from a broken one.
func invalid(body []byte) error {
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return errors.New("the response body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return source.ErrTruncated
		}
		return errors.New("the response is not JSON (an HTML error page or plain text?)")
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return source.ErrTruncated
	case errors.As(err, &syn):
		return fmt.Errorf("the response is not valid JSON at byte %d: %v", syn.Offset, syn)
	case err == nil:
		return fmt.Errorf("the response is not valid JSON: something other than white space follows the JSON value, which ends at byte %d", dec.InputOffset())
	}
	return errors.New("the response is not valid JSON")
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return traffic.CleanText([]byte(s))
}
