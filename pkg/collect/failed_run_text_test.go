package collect_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestFailedRunWithInvalidTextInItsErrorIsRecorded: the error of a failed
// run can hold text from the feed (here a next_url with a Latin-1 byte,
// which the error names); it is made valid text before the ledger, so
// PostgreSQL records the failure as SQLite does.
func TestFailedRunWithInvalidTextInItsErrorIsRecorded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		page1 := `{"events":[{"id":"a/1","headline":"one"}],"pagination":{"next_url":"/traffic/events?offset=1&road=Stra` + "\xdf" + `e"}}`
		if err := h.srv.SetBodies([]byte(page1)); err != nil {
			t.Fatal(err)
		}
		h.srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if page == 0 {
				return false
			}
			w.WriteHeader(http.StatusInternalServerError)
			return true
		})
		sum, err := h.fetch()
		if err == nil {
			t.Fatal("a run whose page 2 fails succeeded")
		}
		if sum.RunID == 0 {
			t.Fatalf("the failed run was not recorded: %v", err)
		}
		var runs []store.FetchRun
		h.st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error { runs = append(runs, *r); return nil })
		if len(runs) != 1 || runs[0].Status != store.RunFailed {
			t.Fatalf("ledger %+v, want one failed run", runs)
		}
		msg := runs[0].Error
		if !utf8.ValidString(msg) || !strings.Contains(msg, "road=Stra\uFFFDe: 500 Internal Server Error") {
			t.Errorf("recorded error %q", msg)
		}
	})
}
