package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Events are parsed with fastjson, which reads them into a tree without
// reflection: a fetch decodes every event of every run, and encoding/json's
// reflection and map building were most of a fetch's CPU.
var parsers fastjson.ParserPool

// Scratch is the reusable working memory of one decoding goroutine.
type Scratch struct {
	members []member // a stack of the objects being canonicalised
	buf     []byte   // the last canonical event, copied out only if kept
}

// Identify writes the canonical form of a decoded event's object v into
// the scratch's buffer and reads its id with idOf: raw is valid until the
// next call, and hash is its content hash. Canonicalising leaves v as raw
// has it (see AppendCanonical), so idOf, and every field read from v
// afterwards, sees the last of a repeated key, as raw does. An empty id
// is ErrNoID; an id longer than MaxIDBytes, or an object that is no valid
// JSON for every database, fails the event, named in errors as what
// ("event", "feature").
func (sc *Scratch) Identify(what string, v *fastjson.Value, idOf func(*fastjson.Value) string) (id string, raw []byte, hash string, err error) {
	raw, err = sc.AppendCanonical(sc.buf[:0], v)
	if id = idOf(v); id == "" {
		return "", nil, "", ErrNoID
	}
	if len(id) > MaxIDBytes {
		return "", nil, "", fmt.Errorf("%s id of %d bytes is longer than %d", what, len(id), MaxIDBytes)
	}
	if err != nil {
		return "", nil, "", fmt.Errorf("%s %s: %w", what, id, err)
	}
	sc.buf = raw
	return id, raw, Hash(raw), nil
}

// member has four words at most: the sort moves the members of every
// object of every event, and a larger struct is copied through a bulk
// write barrier (docs/benchmarks.md, "Fetching overlaps decoding again").
type member struct {
	key []byte
	val *fastjson.Value
}

// Canonical returns obj as compact JSON with object keys sorted and numbers
// kept as written, so that key order and white space do not change an
// event's content hash. Strings and keys are made valid text (see
// CleanText), keys before they are sorted; of repeated keys, also of those
// that cleaning makes alike, the last one counts. Apart from that, its
// output is byte for byte what decoding into map[string]any (with
// UseNumber) and encoding again without HTML escaping gives (see
// canonical_test.go).
func Canonical(obj []byte) ([]byte, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(obj)
	if err != nil {
		return nil, err
	}
	var sc Scratch
	return sc.AppendCanonical(nil, v)
}

// AppendCanonical appends the canonical form of v to dst. It also makes
// v's objects what that form holds: of a repeated key only the last
// member stays, and keys are cleaned (see CleanText), so that fields read
// from v afterwards agree with raw.
func (sc *Scratch) AppendCanonical(dst []byte, v *fastjson.Value) ([]byte, error) {
	var err error
	switch v.Type() {
	case fastjson.TypeObject:
		// The members go on top of the stack, by index: nested objects push
		// above them and may move the stack.
		start := len(sc.members)
		obj := v.GetObject()
		unlike := false // v's members are not what its canonical form holds
		obj.Visit(func(k []byte, val *fastjson.Value) {
			// Keys are made valid text before they are sorted and compared:
			// two keys that cleaning makes alike are one key, as for
			// encoding/json and jsonb, and the output stays sorted.
			if !isClean(k) {
				k, unlike = []byte(CleanText(k)), true
			}
			sc.members = append(sc.members, member{k, val})
		})
		end := len(sc.members)
		// A stable sort keeps repeated keys in input order; the last wins.
		slices.SortStableFunc(sc.members[start:end], func(a, b member) int { return bytes.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i := start; i < end; i++ {
			m := sc.members[i]
			if i+1 < end && bytes.Equal(m.key, sc.members[i+1].key) {
				unlike = true
				continue
			}
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.key)
			dst = append(dst, ':')
			if dst, err = sc.AppendCanonical(dst, m.val); err != nil {
				sc.members = sc.members[:start]
				return nil, err
			}
		}
		if unlike {
			settle(obj, sc.members[start:end])
		}
		sc.members = sc.members[:start]
		return append(dst, '}'), nil
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, item := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = sc.AppendCanonical(dst, item); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		return appendString(dst, v.GetStringBytes()), nil
	case fastjson.TypeNumber:
		// Numbers are copied as written. fastjson also takes NaN and Inf,
		// which are not JSON (and PostgreSQL's jsonb refuses them).
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !json.Valid(dst[start:]) {
			return nil, fmt.Errorf("%s is not a JSON number", dst[start:])
		}
		if !numericFits(dst[start:]) {
			return nil, fmt.Errorf("%w: %.20s…", errNumberRange, dst[start:])
		}
		return dst, nil
	default: // true, false, null
		return v.MarshalTo(dst), nil
	}
}

// settle makes obj hold the members of its canonical form, sorted: under
// cleaned keys, and of a repeated key only the last, since fastjson's Get
// returns the first of a repeated key and knows keys only as written.
func settle(obj *fastjson.Object, sorted []member) {
	var written []string
	obj.Visit(func(k []byte, _ *fastjson.Value) { written = append(written, string(k)) })
	for _, k := range written {
		obj.Del(k) // one at a time: Del removes the first with the key
	}
	for i, m := range sorted {
		if i+1 == len(sorted) || !bytes.Equal(m.key, sorted[i+1].key) {
			obj.Set(string(m.key), m.val)
		}
	}
}

// errNumberRange is a number PostgreSQL's jsonb cannot hold.
var errNumberRange = errors.New("a number beyond PostgreSQL's numeric range (131072 digits before the point, 16383 after)")

// numericFits reports whether PostgreSQL's numeric, and so jsonb, takes the
// valid JSON number num: at most 131072 digits before the decimal point
// and 16383 after it (as written: 1.50 has two), and an exponent within
// ±(2^30-1). Such a number in raw would fail the whole run there, and only
// there.
func numericFits(num []byte) bool {
	mant, exp := num, []byte(nil)
	i := 0
	for i < len(num) && num[i] != 'e' && num[i] != 'E' {
		i++
	}
	if i < len(num) {
		mant, exp = num[:i], num[i+1:]
	} else if len(num) <= 16383 {
		return true // nearly every number: too short to have too many digits
	}
	e := int64(0)
	if len(exp) > 0 {
		var err error
		if e, err = strconv.ParseInt(string(exp), 10, 64); err != nil || e >= 1<<30-1 || e <= -(1<<30-1) {
			return false
		}
	}
	whole, frac, _ := bytes.Cut(bytes.TrimPrefix(mant, []byte("-")), []byte("."))
	if int64(len(frac))-e > 16383 {
		return false
	}
	// The power of ten of the first digit that is not 0.
	nonZero := func(r rune) bool { return r != '0' }
	var power int64
	if i := bytes.IndexFunc(whole, nonZero); i >= 0 {
		power = int64(len(whole)-1-i) + e
	} else if i := bytes.IndexFunc(frac, nonZero); i >= 0 {
		power = int64(-1-i) + e
	} else {
		return true // zero has no digits before the point
	}
	return power < 131072
}

// appendString writes s, made valid text, as a JSON string, as
// encoding/json does without HTML escaping. Printable ASCII without quotes
// or backslashes, nearly all of a feed's text, is copied; anything else
// goes through encoding/json.
func appendString(dst, s []byte) []byte {
	plain := true
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(CleanText(s)) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// isClean reports whether CleanText would return s unchanged.
func isClean(s []byte) bool {
	for _, c := range s {
		if c == 0 || c >= utf8.RuneSelf {
			return utf8.Valid(s) && bytes.IndexByte(s, 0) < 0
		}
	}
	return true // ASCII without NUL: nearly every key and value of a feed
}

// CleanText is s as text every database stores alike: each invalid UTF-8
// byte becomes U+FFFD (as encoding/json's decoder does), and NUL, which
// PostgreSQL refuses in text and jsonb, is removed.
func CleanText(s []byte) string {
	if isClean(s) {
		return string(s)
	}
	var text strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r != 0 {
			text.WriteRune(r)
		}
		s = s[size:]
	}
	return text.String()
}
