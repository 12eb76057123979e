package open511_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/internal/feedtest"
)

// A bad pagination.next_url fails the run with an error that names the
// page that carried it, by its URL (the key masked).
func TestBadNextURLNamesThePageThatCarriedIt(t *testing.T) {
	for _, tt := range []struct{ name, next, want string }{
		{"another host", "https://elsewhere.example/traffic/events?offset=2", `pagination.next_url points to another host \(elsewhere.example\)`},
		{"not a URL", "/traffic/%zz?offset=2", `pagination.next_url is not a URL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := feedtest.New()
			defer srv.Close()
			srv.SetBodies(
				[]byte(`{"events":[{"id":"a/1"}],"pagination":{"next_url":"/traffic/events?format=json&limit=5&offset=1"}}`),
				[]byte(`{"events":[{"id":"a/2"}],"pagination":{"next_url":"`+tt.next+`"}}`),
			)
			_, err := fetch(context.Background(), client(srv))
			page2 := regexp.QuoteMeta(srv.URL() + "?api_key=***&format=json&limit=5&offset=1")
			if err == nil || !regexp.MustCompile(`^fetch page 2 of `+page2+`: `+tt.want+`$`).MatchString(err.Error()) {
				t.Fatalf("err = %v, want page 2 and its URL %s", err, page2)
			}
			if strings.Contains(err.Error(), "test-key-0001") {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}
