package open511_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/open511"
)

// TestVocabulary: category from event_type, impact from the worst state
// of the roads, road and direction from the first road, whatever their
// case and white space; a value that is not text counts as none.
func TestVocabulary(t *testing.T) {
	b, err := os.ReadFile("../../testdata/vocabulary/open511-edges.json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Events []json.RawMessage }
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	want := map[string][4]string{
		"o1": {"special-event", "unknown", "", ""},           // roads is not a list
		"o2": {"other", "road-closed", "", ""},               // the first road is not an object
		"o3": {"weather", "road-closed", "", "both"},         // CLOSED outranks SOME_LANES_CLOSED
		"o4": {"road-condition", "lanes-open", "Main", "up"}, // an unknown direction as sent
		"o5": {"other", "unknown", "", ""},                   // no Unicode case folding
		"o6": {"other", "unknown", "", ""},
		"o7": {"incident", "road-closed", "I-880 N", "northbound"},
		"o8": {"construction", "lanes-open", "SR-1", "both"},
	}
	for _, obj := range page.Events {
		e, _, err := open511.DecodeEvent(obj, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[e.ID]
		if !ok {
			t.Fatalf("no expectation for %s", e.ID)
		}
		delete(want, e.ID)
		if got := [4]string{e.Category, e.Impact, e.Road, e.Direction}; got != w {
			t.Errorf("%s: category, impact, road, direction %q, want %q", e.ID, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("not in the fixture: %v", want)
	}
}
