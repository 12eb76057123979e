package open511

import (
	"strings"
	"testing"
)

// A page is one JSON value and nothing after it but white space: a body
// with a second document or garbage after the first is not a page whose
// first part can be taken, and "events": null is not an empty snapshot.
// Both readers (readPage's, and decodePage, which readPage falls back to)
// agree.
func TestPageIsOneJSONValueWithAList(t *testing.T) {
	readers := map[string]func([]byte) (pageInfo, error){"readPage": readPage, "decodePage": decodePage}
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
	} {
		for name, read := range readers {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				page, err := read([]byte(tt.body))
				if tt.want != "" {
					if err == nil || !strings.Contains(err.Error(), tt.want) {
						t.Fatalf("err = %v, want %q", err, tt.want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if n := len(page.decode(nil, nil)()); n != tt.events {
					t.Fatalf("%d events, want %d", n, tt.events)
				}
			})
		}
	}
}
