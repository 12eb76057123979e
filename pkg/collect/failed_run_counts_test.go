package collect_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestFailedRunRecordsWhatWasRead: a feed of four pages of four events
// whose page 3 fails. The failed run's ledger row counts what was read
// before the failure: pages=3, because `pages` counts the pages requested,
// the failing one included (it says which page failed), and
// events_received=8, the events of pages 1 and 2 (one of them without an
// id, so events_skipped=1). Nothing of the snapshot is stored.
func TestFailedRunRecordsWhatWasRead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		h := newHarness(t, dbURL)
		var events []json.RawMessage
		for i := 1; i <= 16; i++ {
			e := fmt.Sprintf(`{"id":"test.org/%d","headline":"Incident %d"}`, i, i)
			if i == 6 {
				e = `{"headline":"no id"}`
			}
			events = append(events, json.RawMessage(e))
		}
		h.srv.SetEvents(events, 4)
		h.srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
			if page != 2 { // zero-based: the third page
				return false
			}
			w.WriteHeader(http.StatusInternalServerError)
			return true
		})
		sum, err := h.fetch()
		if err == nil {
			t.Fatal("a run whose page 3 fails succeeded")
		}
		if n := len(h.srv.Requests()); n != 3 {
			t.Fatalf("%d requests, want 3 (pages 1 to 3, no retries)", n)
		}
		var runs []store.FetchRun
		h.st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error { runs = append(runs, *r); return nil })
		if len(runs) != 1 {
			t.Fatalf("%d ledger rows, want 1", len(runs))
		}
		r := runs[0]
		if r.Status != store.RunFailed || r.Pages != 3 || r.EventsReceived != 8 || r.EventsSkipped != 1 ||
			r.EventsNew+r.EventsChanged+r.EventsUnchanged+r.EventsClosed != 0 {
			t.Errorf("ledger row %+v; want failed, pages 3, received 8, skipped 1, nothing new", r)
		}
		if sum.RunID != r.ID || sum.Pages != 3 || sum.Received != 8 || sum.Skipped != 1 {
			t.Errorf("summary %+v does not match the ledger row", sum)
		}
		stored := 0
		h.st.Events(ctx, store.Filter{}, func(*store.Event) error { stored++; return nil })
		if stored != 0 {
			t.Errorf("%d events stored by a failed run", stored)
		}
	})
}
