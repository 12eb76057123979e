package report

import (
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestSeriesBreaksBetweenFeeds: two feeds collected years apart give two
// runs of intervals with nothing between; the line must break there, not
// join them.
func TestSeriesBreaksBetweenFeeds(t *testing.T) {
	day := 24 * time.Hour
	incident := "INCIDENT"
	at := func(y int) time.Time { return time.Date(y, 4, 15, 0, 0, 0, 0, time.UTC) }
	counts := []store.IntervalCount{
		{Start: at(2021), End: at(2021).Add(day), Feed: "a", Group: &incident, Runs: 2, Open: 5},
		{Start: at(2021).Add(day), End: at(2021).Add(2 * day), Feed: "a", Group: &incident, Runs: 1, Open: 4},
		{Start: at(2025), End: at(2025).Add(day), Feed: "b", Group: &incident, Runs: 1, Open: 7},
	}
	s := buildSeries(counts, day, []string{incident}, func(string) bool { return true })
	want := []*int{ptr(5), ptr(4), nil, ptr(7)}
	if len(s.Total) != len(want) || len(s.T) != len(want) {
		t.Fatalf("%d points (%v), want %d", len(s.Total), s.T, len(want))
	}
	for i, w := range want {
		if (w == nil) != (s.Total[i] == nil) || w != nil && *w != *s.Total[i] {
			t.Errorf("point %d: %v, want %v", i, orGap(s.Total[i]), orGap(w))
		}
	}
	if s.T[2] != at(2021).Add(2*day).Unix() {
		t.Errorf("the break is at %d, want the interval after the last of 2021", s.T[2])
	}
}

func orGap(p *int) any {
	if p == nil {
		return "gap"
	}
	return *p
}
