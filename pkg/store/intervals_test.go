package store_test

import (
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestGridDaysFollowTheLocalCalendar: in a zone, a day interval runs from
// local midnight to local midnight, 23 hours when the clocks spring
// forward and 25 when they fall back, and a day of hours has 23, 24 or 25
// of them, each starting on a local hour; in UTC the grid is the epoch's.
func TestGridDaysFollowTheLocalCalendar(t *testing.T) {
	la, paris := zone(t, "America/Los_Angeles"), zone(t, "Europe/Paris")
	cases := []struct {
		name        string
		grid        store.Grid
		at          time.Time // an instant in the day
		start, next time.Time // the interval it is in
		hours       int       // the intervals of an hour in that local day
	}{
		{"spring forward", store.Grid{Every: 24 * time.Hour, Loc: la}, time.Date(2021, 3, 14, 12, 0, 0, 0, la),
			time.Date(2021, 3, 14, 8, 0, 0, 0, time.UTC), time.Date(2021, 3, 15, 7, 0, 0, 0, time.UTC), 23},
		{"fall back", store.Grid{Every: 24 * time.Hour, Loc: la}, time.Date(2021, 11, 7, 23, 30, 0, 0, la),
			time.Date(2021, 11, 7, 7, 0, 0, 0, time.UTC), time.Date(2021, 11, 8, 8, 0, 0, 0, time.UTC), 25},
		{"an ordinary day", store.Grid{Every: 24 * time.Hour, Loc: la}, time.Date(2021, 4, 20, 0, 0, 0, 0, la),
			time.Date(2021, 4, 20, 7, 0, 0, 0, time.UTC), time.Date(2021, 4, 21, 7, 0, 0, 0, time.UTC), 24},
		{"Paris spring forward", store.Grid{Every: 24 * time.Hour, Loc: paris}, time.Date(2021, 3, 28, 1, 0, 0, 0, paris),
			time.Date(2021, 3, 27, 23, 0, 0, 0, time.UTC), time.Date(2021, 3, 28, 22, 0, 0, 0, time.UTC), 23},
		{"the second 1 a.m.", store.Grid{Every: time.Hour, Loc: la}, time.Date(2021, 11, 7, 9, 59, 0, 0, time.UTC),
			time.Date(2021, 11, 7, 9, 0, 0, 0, time.UTC), time.Date(2021, 11, 7, 10, 0, 0, 0, time.UTC), 25},
		{"a week from 1970-01-01", store.Grid{Every: 7 * 24 * time.Hour, Loc: la}, time.Date(2021, 3, 14, 12, 0, 0, 0, la),
			time.Date(2021, 3, 11, 8, 0, 0, 0, time.UTC), time.Date(2021, 3, 18, 7, 0, 0, 0, time.UTC), 23},
		{"UTC days", store.Grid{Every: 24 * time.Hour}, time.Date(2021, 3, 14, 12, 0, 0, 0, la),
			time.Date(2021, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2021, 3, 15, 0, 0, 0, 0, time.UTC), 24},
		{"UTC every 7m", store.Grid{Every: 7 * time.Minute, Loc: time.UTC}, time.Date(2021, 3, 14, 0, 0, 0, 0, time.UTC),
			time.Date(2021, 3, 13, 23, 59, 0, 0, time.UTC), time.Date(2021, 3, 14, 0, 6, 0, 0, time.UTC), 24},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.grid.Check(); err != nil {
				t.Fatal(err)
			}
			start := c.grid.Floor(c.at)
			if !start.Equal(c.start) {
				t.Errorf("Floor(%s) = %s, want %s", c.at, start.UTC(), c.start)
			}
			if next := c.grid.Next(start); !next.Equal(c.next) {
				t.Errorf("Next(%s) = %s, want %s", start.UTC(), next.UTC(), c.next)
			}
			hourly := store.Grid{Every: time.Hour, Loc: c.grid.Loc}
			day := store.Grid{Every: 24 * time.Hour, Loc: c.grid.Loc}
			from := day.Floor(c.at)
			n := 0
			for h := from; h.Before(day.Next(from)); h = hourly.Next(h) {
				loc := hourly.Loc
				if loc == nil {
					loc = time.UTC
				}
				if local := h.In(loc); local.Minute() != 0 || local.Second() != 0 {
					t.Errorf("an hour starts at %s", local)
				}
				if !hourly.Floor(h).Equal(h) || !hourly.Floor(hourly.Next(h).Add(-time.Nanosecond)).Equal(h) {
					t.Errorf("the hour starting at %s is not its own floor", h)
				}
				n++
			}
			if n != c.hours {
				t.Errorf("%d hours in the day of %s, want %d", n, c.at, c.hours)
			}
		})
	}
}

// TestGridRefusesIntervalsAcrossMidnight: in a zone, an interval must tile
// a day.
func TestGridRefusesIntervalsAcrossMidnight(t *testing.T) {
	la := zone(t, "America/Los_Angeles")
	for _, every := range []time.Duration{7 * time.Hour, 25 * time.Hour, 7 * time.Minute} {
		if err := (store.Grid{Every: every, Loc: la}).Check(); err == nil {
			t.Errorf("%s in %s: no error", every, la)
		}
		if err := (store.Grid{Every: every}).Check(); err != nil {
			t.Errorf("%s in UTC: %v", every, err)
		}
	}
}
