package traffic

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/valyala/fastjson"
)

// The scanners of the feed decoders (open511's page envelope, wzdx's
// document) find where each event lies in a body that fastjson has
// validated, so that events are parsed one by one and a body is never
// held as one tree: see their comments for what that buys.

// SkipSpace returns the first index from i that is not JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// SkipValue returns the end of the valid JSON value that starts at i.
func SkipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
			i++
		}
	}
	return i
}

// skipString returns the end of the valid JSON string that starts at i. It
// jumps from quote to quote: most of a feature's bytes are in strings.
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		// The quote ends the string unless an odd number of backslashes
		// escapes it (the opening quote stops the count).
		k := i
		for b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i + 1
		}
	}
}

// Parse parses one event object with p; valid JSON that is not an object
// is an error too. What names it in errors ("event", "feature").
//
// Parse modifies obj: each \u escape of a lone UTF-16 surrogate in it
// ("\ud800" with no low half after it) is first rewritten in place as
// \ufffd, so a caller that needs its bytes unchanged passes a copy.
// fastjson keeps such an escape as the six characters \ud800, which were
// stored as that text, where encoding/json (and so every other invalid
// text here) gives U+FFFD.
func Parse(p *fastjson.Parser, what string, obj []byte) (*fastjson.Value, error) {
	fixLoneSurrogates(obj)
	v, err := p.ParseBytes(obj)
	if err != nil {
		return nil, parseError(what, err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%s is a JSON %s, not an object", what, v.Type())
	}
	return v, nil
}

// maxParseError is the most of fastjson's message an error keeps: for
// each level of nesting it says "cannot parse object value: ", which made
// the message of a feature 400 deep 14 KB long.
const maxParseError = 200

// parseError says in a short sentence why fastjson did not parse an event.
func parseError(what string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "too big depth") {
		// Valid JSON, as the page or document it came in was validated.
		return fmt.Errorf("%s is nested deeper than %d levels", what, fastjson.MaxDepth)
	}
	if len(msg) > maxParseError {
		msg = strings.ToValidUTF8(msg[:maxParseError], "") + "…"
	}
	return fmt.Errorf("%s is not valid JSON: %s", what, msg)
}

// fixLoneSurrogates rewrites, in place, each \u escape of a surrogate
// that is not the high half of a pair followed by its low half as \ufffd,
// which has the same length. In valid JSON a backslash is always in a
// string and starts an escape, so escapes are found by skipping from one
// backslash to the next.
func fixLoneSurrogates(b []byte) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 || i+j+1 >= len(b) {
			return
		}
		i += j
		if b[i+1] != 'u' {
			i += 2 // \" \\ \/ \n ...
			continue
		}
		r, ok := hex4(b[i+2:])
		if !ok || !utf16.IsSurrogate(r) {
			i += 2
			continue
		}
		if r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
			if low, ok := hex4(b[i+8:]); ok && low >= 0xdc00 && low <= 0xdfff {
				i += 12 // a pair
				continue
			}
		}
		copy(b[i+2:], "fffd")
		i += 6
	}
}

// hex4 reads the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// MaxNesting is the deepest a response body may nest. fastjson's validator
// recurses once a level with no limit of its own, and a body of 2,000,000
// '[' overflowed the goroutine stack, which kills the process; Go's
// encoding/json stops at the same depth.
const MaxNesting = 10000

// NestedDeeperThan reports whether the JSON text data nests deeper than
// max (brackets inside strings do not count). Counting the brackets first
// keeps the byte loop off ordinary bodies, whose brackets are far fewer.
func NestedDeeperThan(data []byte, max int) bool {
	if bytes.Count(data, []byte{'['})+bytes.Count(data, []byte{'{'}) <= max {
		return false
	}
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// ErrTooDeep is the error of a body that nests deeper than MaxNesting.
var ErrTooDeep = fmt.Errorf("the response is nested deeper than %d levels", MaxNesting)
