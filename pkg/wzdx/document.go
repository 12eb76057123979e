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
// its features, each as it lies in the body. The body is validated once
// and walked once; each feature is parsed on its own later, so the
// document is never held as one tree: memory stays at the body plus one
// feature. What it buys: docs/benchmarks.md, "What each fast path buys".
func readDocument(body []byte) ([][]byte, error) {
	if traffic.NestedDeeperThan(body, traffic.MaxNesting) {
		return nil, traffic.ErrTooDeep
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		return nil, invalid(body)
	}
	i := traffic.SkipSpace(body, 0)
	if body[i] != '{' {
		return nil, fmt.Errorf("the response is a JSON %s, not a WZDx FeatureCollection", kind(body[i]))
	}
	// Of repeated members the last counts, as in traffic.Canonical.
	var typ, features []byte
	var list [][]byte
	for i = traffic.SkipSpace(body, i+1); body[i] != '}'; {
		keyEnd := traffic.SkipValue(body, i)
		start := traffic.SkipSpace(body, traffic.SkipSpace(body, keyEnd)+1) // past the colon
		var end int
		switch unquote(body[i:keyEnd]) {
		case "type":
			end = traffic.SkipValue(body, start)
			typ = body[start:end]
		case "features":
			if body[start] == '[' {
				list, end = elements(body, start)
			} else {
				end = traffic.SkipValue(body, start)
			}
			features = body[start:end]
		default:
			end = traffic.SkipValue(body, start)
		}
		if i = traffic.SkipSpace(body, end); body[i] == ',' {
			i = traffic.SkipSpace(body, i+1)
		}
	}
	switch {
	case typ != nil && string(typ) != `"FeatureCollection"` && unquote(typ) != "FeatureCollection":
		if typ[0] == '"' {
			return nil, fmt.Errorf("the response is a JSON object with type %q, not a WZDx FeatureCollection", clip(unquote(typ)))
		}
		return nil, fmt.Errorf("the response is a JSON object whose type is a JSON %s, not a WZDx FeatureCollection", kind(typ[0]))
	case features == nil:
		return nil, errors.New(`the response is a JSON object with no "features" list; is this a WZDx feed URL?`)
	case string(features) == "null":
		return nil, errors.New(`the response's "features" is null, not a list (an empty WZDx feed has "features": [])`)
	case features[0] != '[':
		return nil, fmt.Errorf(`the response's "features" is a JSON %s, not a list`, kind(features[0]))
	case typ == nil:
		return nil, errors.New(`the response has a "features" list but no "type": "FeatureCollection"; is this a WZDx feed URL?`)
	}
	return list, nil
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

// kind names the JSON value that starts with c.
func kind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// unquote is the text of a valid JSON string, or "" for any other value.
func unquote(s []byte) string {
	if len(s) < 2 || s[0] != '"' {
		return ""
	}
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s[1 : len(s)-1])
	}
	var text string
	json.Unmarshal(s, &text) // valid
	return text
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return traffic.CleanText([]byte(s))
}

// elements are the elements of the valid JSON array that starts at
// b[start], each as it lies in b, and the end of the array.
func elements(b []byte, start int) ([][]byte, int) {
	var list [][]byte
	i := traffic.SkipSpace(b, start+1)
	for b[i] != ']' {
		end := traffic.SkipValue(b, i)
		list = append(list, b[i:end])
		if i = traffic.SkipSpace(b, end); b[i] == ',' {
			i = traffic.SkipSpace(b, i+1)
		}
	}
	return list, i + 1
}
