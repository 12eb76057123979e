package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// InvalidJSON says in one sentence why a body that a decoder refused is
// not one JSON value, for every format alike. A body that ends early is
// ErrTruncated (and so retried). It runs only for bad bodies, so it may be
// slow: it asks encoding/json, whose errors tell a truncated body from a
// broken one.
func InvalidJSON(body []byte) error {
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return errors.New("the response body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return ErrTruncated
		}
		return errors.New("the response is not JSON (an HTML error page or plain text?)")
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return ErrTruncated
	case errors.As(err, &syn):
		return fmt.Errorf("the response is not valid JSON at byte %d: %v", syn.Offset, syn)
	case err == nil:
		return fmt.Errorf("the response is not valid JSON at byte %d: more follows the end of the JSON value", dec.InputOffset()+1)
	}
	return errors.New("the response is not valid JSON")
}
