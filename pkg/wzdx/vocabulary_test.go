package wzdx_test

import (
	"testing"
)

// TestVocabulary: category, impact, road and direction from event_type,
// vehicle_impact, road_names[0] (or 3.0's road_number, road_name) and
// direction, wherever 3.x and 4.x keep them, whatever their case and
// white space; a value that is not text counts as none.
func TestVocabulary(t *testing.T) {
	r, err := stream(t, newFeed(serveFile(t, "../vocabulary/wzdx-edges.geojson"), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][4]string{
		"w1": {"construction", "unknown", "Elm", ""},      // 3.0: no event_type is a work zone; road_number blank
		"w2": {"construction", "lanes-closed", "80", ""},  // core_details not an object: read as 3.x
		"w3": {"detour", "unknown", "", "southbound"},     // road_names[0] is a number
		"w4": {"other", "unknown", "US-101", "eastbound"}, // core_details' empty event_type counts; its nulls do not
		"w5": {"other", "unknown", "", ""},                // 4.x: no road_number fallback
		"w6": {"construction", "unknown", "", ""},         // properties not an object
		"w7": {"construction", "lanes-open", "Oak", ""},   // road_number not text
		"w8": {"construction", "road-closed", "I-80", "northbound"},
	}
	for id, w := range want {
		e := r.byID[id]
		if got := [4]string{e.Category, e.Impact, e.Road, e.Direction}; got != w {
			t.Errorf("%s: category, impact, road, direction %q, want %q", id, got, w)
		}
	}
}
