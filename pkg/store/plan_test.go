package store

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// planned is a pagePlan said with ids only, for comparing.
type planned struct {
	Undo   []undo
	Ending []string
	Begin  map[string]int // id -> spell number
}

func said(p pagePlan) planned {
	out := planned{Undo: p.undo}
	for _, k := range p.ending {
		out.Ending = append(out.Ending, fmt.Sprintf("%s@%d", k.id, k.version))
	}
	if len(p.begin) > 0 {
		out.Begin = map[string]int{}
		for _, sp := range p.begin {
			out.Begin[sp.event.ID] = sp.version
		}
	}
	return out
}

func ev(id, hash string) traffic.Event { return traffic.Event{ID: id, ContentHash: hash, Raw: "{}"} }

func TestPlanDecidesEachEventOfAPage(t *testing.T) {
	planner := func() *planner {
		p := newPlanner(map[string]known{
			"same":   {hash: "h1", version: 3, open: true},
			"edited": {hash: "h1", version: 2, open: true},
			"absent": {hash: "h1", version: 1, open: true},
		})
		p.closed["closed"], p.closed["closed2"] = known{version: 4}, known{version: 1} // as the run looks them up
		return p
	}
	tests := []struct {
		name    string
		pages   [][]traffic.Event
		last    planned // the plan of the last page
		counts  RunCounts
		closing []string
	}{
		{
			name:  "new, changed, unchanged, returning and closing in one page",
			pages: [][]traffic.Event{{ev("same", "h1"), ev("edited", "h2"), ev("closed", "h9"), ev("fresh", "h1")}},
			last: planned{Ending: []string{"edited@2"},
				Begin: map[string]int{"edited": 3, "closed": 5, "fresh": 1}},
			counts:  RunCounts{New: 1, Changed: 2, Unchanged: 1, Closed: 1},
			closing: []string{"absent"},
		},
		{
			name:    "an unchanged event handed on as its hash only writes nothing",
			pages:   [][]traffic.Event{{{ID: "same", ContentHash: "h1", HashOnly: true}, ev("absent", "h1"), ev("edited", "h1")}},
			last:    planned{},
			counts:  RunCounts{Unchanged: 3},
			closing: nil,
		},
		{
			name:    "an id twice in one page: its last copy counts",
			pages:   [][]traffic.Event{{ev("fresh", "a"), ev("same", "h2"), ev("fresh", "b"), ev("same", "h1")}},
			last:    planned{Begin: map[string]int{"fresh": 1}},
			counts:  RunCounts{New: 1, Unchanged: 1, Closed: 2},
			closing: []string{"absent", "edited"},
		},
		{
			name:    "met again on a later page with the same content: nothing more",
			pages:   [][]traffic.Event{{ev("fresh", "a"), ev("edited", "h2")}, {ev("fresh", "a"), ev("edited", "h2")}},
			last:    planned{},
			counts:  RunCounts{New: 1, Changed: 1, Closed: 2},
			closing: []string{"absent", "same"},
		},
		{
			name:  "met again on a later page with other content: undone, then planned again",
			pages: [][]traffic.Event{{ev("fresh", "a"), ev("edited", "h2"), ev("same", "h1"), ev("closed", "x")}, {ev("fresh", "b"), ev("edited", "h1"), ev("same", "h3"), ev("closed", "y")}},
			last: planned{
				Undo:   []undo{{id: "fresh", was: isNew}, {id: "edited", was: isChanged, version: 2}, {id: "closed", was: isReturning, version: 4}},
				Ending: []string{"same@3"},
				Begin:  map[string]int{"fresh": 1, "same": 4, "closed": 5},
			},
			counts:  RunCounts{New: 1, Changed: 2, Unchanged: 1, Closed: 1},
			closing: []string{"absent"},
		},
		{
			name:    "an empty snapshot closes every open event",
			pages:   [][]traffic.Event{{}},
			last:    planned{},
			counts:  RunCounts{Closed: 3},
			closing: []string{"absent", "edited", "same"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planner()
			var plan pagePlan
			for _, page := range tt.pages {
				var err error
				if plan, err = p.page(page); err != nil {
					t.Fatal(err)
				}
			}
			if got := said(plan); !reflect.DeepEqual(got, tt.last) {
				t.Errorf("plan of the last page:\n got %+v\nwant %+v", got, tt.last)
			}
			if got := p.counts(p.closing()); got != tt.counts {
				t.Errorf("counts %+v, want %+v", got, tt.counts)
			}
			closing := ids(p.closing())
			sort.Strings(closing)
			if !reflect.DeepEqual(closing, tt.closing) {
				t.Errorf("closing %v, want %v", closing, tt.closing)
			}
		})
	}
}

func TestPlanRefusesAHashOnlyEventItCannotWrite(t *testing.T) {
	p := newPlanner(map[string]known{"a": {hash: "h1", version: 1, open: true}})
	for _, e := range []traffic.Event{
		{ID: "a", ContentHash: "h2", HashOnly: true}, // changed: its content is needed
		{ID: "b", ContentHash: "h1", HashOnly: true}, // new
	} {
		if _, err := p.page([]traffic.Event{e}); err == nil {
			t.Errorf("%s with hash %s and no content: planned", e.ID, e.ContentHash)
		}
	}
}

func TestPlanAsksOnlyForIDsItDoesNotKnow(t *testing.T) {
	p := newPlanner(map[string]known{"open": {hash: "h", version: 1, open: true}})
	if _, err := p.page([]traffic.Event{ev("met", "x")}); err != nil {
		t.Fatal(err)
	}
	got := p.unknown([]traffic.Event{ev("open", "h"), ev("met", "y"), ev("other", "z")})
	if !reflect.DeepEqual(got, []string{"other"}) {
		t.Errorf("unknown %v, want [other]", got)
	}
}
