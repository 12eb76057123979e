package open511

import (
	"bytes"
	"encoding/json"

	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/valyala/fastjson"
)

// envelope is what readPage needs of a page body: where each event object
// lies in it, and pagination.next_url.
type envelope struct {
	events [][]byte // each element of "events", as it is in the body
	next   string
}

// readEnvelope finds the members of a page body that is known to be valid
// JSON (fastjson.ValidateBytes). Each event is later parsed on its own, so
// a page is never held as one tree: memory stays at the body plus one
// event. ok is false for anything but an object with exactly one
// "events" member that is a list, and a pagination.next_url that is a
// string or null if present: such bodies go to decodePage.
//
// A one-shot process pays the page faults of a whole page's tree afresh
// every run; what the scanner buys is in docs/benchmarks.md, "What each
// fast path buys".
func readEnvelope(data []byte) (env envelope, ok bool) {
	i := traffic.SkipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return env, false
	}
	lists := 0
	for i = traffic.SkipSpace(data, i+1); data[i] != '}'; {
		keyEnd := traffic.SkipValue(data, i)
		key := data[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 { // an escaped key: unescape it
			var k string
			json.Unmarshal(data[i:keyEnd], &k)
			key = []byte(k)
		}
		start := traffic.SkipSpace(data, traffic.SkipSpace(data, keyEnd)+1) // past the colon
		end := traffic.SkipValue(data, start)
		switch string(key) {
		case "events":
			lists++
			if env.events, ok = elements(data[start:end]); !ok {
				return env, false
			}
		case "pagination":
			var p fastjson.Parser
			v, _ := p.ParseBytes(data[start:end]) // valid
			if next := v.Get("next_url"); next != nil {
				switch next.Type() {
				case fastjson.TypeString:
					env.next = string(next.GetStringBytes())
				case fastjson.TypeNull:
				default:
					return env, false
				}
			}
		}
		if i = traffic.SkipSpace(data, end); data[i] == ',' {
			i = traffic.SkipSpace(data, i+1)
		}
	}
	return env, lists == 1
}

// elements splits a valid JSON list into its elements.
func elements(list []byte) ([][]byte, bool) {
	if list[0] != '[' {
		return nil, false
	}
	var out [][]byte
	for i := traffic.SkipSpace(list, 1); list[i] != ']'; {
		end := traffic.SkipValue(list, i)
		out = append(out, list[i:end])
		if i = traffic.SkipSpace(list, end); list[i] == ',' {
			i = traffic.SkipSpace(list, i+1)
		}
	}
	return out, true
}
