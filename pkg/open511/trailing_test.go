package open511

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// A page is one JSON value and nothing after it but white space: a body
// with a second document or garbage after the first is not a page whose
// first part can be taken, and "events": null is not an empty snapshot.
func TestPageIsOneJSONValueWithAList(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       string // part of the error; empty means the page is read
		events     int
	}{
		{"two documents", `{"events":[{"id":"a/1"}]}{"events":[{"id":"a/2"},{"id":"a/3"}]}`, "not valid JSON", 0},
		{"two documents, spaced", "{\"events\":[{\"id\":\"a/1\"}]}\n{\"events\":[]}\n", "not valid JSON", 0},
		{"garbage after", `{"events":[{"id":"a/1"}],"pagination":{}} garbage`, "not valid JSON", 0},
		{"a closing brace too many", `{"events":[{"id":"a/1"}]}}`, "not valid JSON", 0},
		{"white space after", "{\"events\":[{\"id\":\"a/1\"}]}\r\n\t \n", "", 1},
		{"null events", `{"events":null,"pagination":{"offset":0}}`, `"events" is null, not a list`, 0},
		{"empty list", `{"events":[]}`, "", 0},
		{"events not a list", `{"events":{"id":"a/1"}}`, `"events" is not a list`, 0},
		{"no events", `{"pagination":{}}`, `no "events" member`, 0},
		{"not an object", `[{"id":"a/1"}]`, "not an object", 0},
		{"truncated", `{"events":[{"id":"a/1"`, "ended early", 0},
		{"repeated events: the last counts", `{"events":[{"id":"a/1"}],"events":[{"id":"a/2"},{"id":"a/3"}]}`, "", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p fastjson.Parser
			events, _, err := readPage(&p, []byte(tt.body))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(events); n != tt.events {
				t.Fatalf("%d events, want %d", n, tt.events)
			}
		})
	}
}
