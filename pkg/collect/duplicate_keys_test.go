package collect_test

import (
	"encoding/json"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// An object with a repeated key ({"id":"o1","id":"o2"}) is read by the
// last one, in the typed columns as in raw, in both formats and at every
// depth; so is a key that cleaning makes equal to another ("i\u0000d" is
// "id"). The typed columns took the first, and raw the last.
func TestRepeatedKeysTheLastWinsInColumnsAndRaw(t *testing.T) {
	t.Parallel()
	open511Page := `{"events":[
{"id":"o1","id":"o2","headline":"first","headline":"last","event_type":"INCIDENT",
 "roads":[{"name":"A","direction":"S","name":"B","direction":"N"}],"status":"ACTIVE","status":"ARCHIVED",
 "geography":{"type":"Point","coordinates":[1,2],"coordinates":[3,4]}},
{"id":"shadowed","i\u0000d":"o3","headline":"a key with a NUL"}
],"pagination":{"next_url":null}}`
	wzdxDoc := `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"w1","id":"w2",
 "properties":{"core_details":{"event_type":"work-zone","description":"first","description":"last","road_names":["I-1"]},
  "vehicle_impact":"all-lanes-open","vehicle_impact":"all-lanes-closed"},
 "geometry":{"type":"Point","coordinates":[1,2]}},
{"type":"Feature","properties":{"core_details":{"event_type":"detour"}},"properties":{"core_details":{"event_type":"work-zone","description":"whole object"},"road_event_id":"w3"},
 "geometry":{"type":"Point","coordinates":[5,6]}}
]}`
	want := map[string]map[string]string{
		"open511": {"o2": "last|ARCHIVED|B (N)|3", "o3": "a key with a NUL|||"},
		"wzdx":    {"w2": "last|all-lanes-closed|I-1|1", "w3": "whole object|||5"},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		for _, format := range []string{"open511", "wzdx"} {
			h := newHarness(t, dbURL)
			body := map[string]string{"open511": open511Page, "wzdx": wzdxDoc}[format]
			if _, err := h.runFormat(format, body, false); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			got := map[string]string{}
			err := h.st.Events(ctx, store.Filter{Feeds: []string{format}, WithRaw: true}, func(e *store.Event) error {
				text := e.Headline
				if format == "wzdx" {
					text = e.Description
				}
				lon := ""
				if e.Lon != nil {
					lon = jsonText(*e.Lon)
				}
				got[e.ID] = text + "|" + e.Status + e.Severity + "|" + e.Roads + "|" + lon
				var raw map[string]any
				if err := json.Unmarshal([]byte(e.Raw), &raw); err != nil {
					t.Fatalf("%s: raw of %s: %v", format, e.ID, err)
				}
				if id := raw["id"]; id != e.ID && (format != "wzdx" || id != nil) {
					t.Errorf("%s: raw id %v, column id %s", format, id, e.ID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for id, w := range want[format] {
				if got[id] != w {
					t.Errorf("%s: event %s is %q, want %q (all: %q)", format, id, got[id], w, got)
				}
			}
			if len(got) != len(want[format]) {
				t.Errorf("%s: events %q, want those of %q", format, got, want[format])
			}
		}
	})
}

func jsonText(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
