package store

import (
	"fmt"
	"time"
)

// Grid is a regular division of time into intervals of Every in time zone
// Loc. In UTC (Loc nil or time.UTC) intervals are aligned to the Unix
// epoch, so an hour starts on the hour. In another zone they are aligned to
// local midnight: a day is a local calendar day (23 or 25 hours when the
// clocks change), and an interval shorter than a day is one of the day's
// slices from its midnight, in elapsed time, so that a day of hours has 23,
// 24 or 25 of them.
type Grid struct {
	Every time.Duration
	Loc   *time.Location
}

const day = 24 * time.Hour

// local says whether the grid follows a zone's calendar rather than the
// epoch.
func (g Grid) local() bool { return g.Loc != nil && g.Loc != time.UTC && g.Loc.String() != "UTC" }

// Check says what is wrong with g, if anything: in a zone other than UTC
// the interval must divide a day or be a whole number of days.
func (g Grid) Check() error {
	if g.Every < time.Second {
		return fmt.Errorf("the interval must be at least 1s, not %s", g.Every)
	}
	if g.local() && day%g.Every != 0 && g.Every%day != 0 {
		return fmt.Errorf("in time zone %s the interval must divide a day (such as 15m, 1h or 6h) or be whole days (24h, 168h), not %s", g.Loc, g.Every)
	}
	return nil
}

// Floor is the start of the interval that t is in.
func (g Grid) Floor(t time.Time) time.Time {
	if !g.local() {
		if g.Every%time.Second == 0 {
			// In seconds: nanoseconds since 1970 overflow int64 outside
			// 1678-2262, and --until 9999-12-31 is year 10000.
			s, d := t.Unix(), int64(g.Every/time.Second)
			k := s / d
			if s%d < 0 {
				k--
			}
			return time.Unix(k*d, 0).UTC()
		}
		n, d := t.UnixNano(), int64(g.Every)
		k := n / d
		if n%d < 0 {
			k--
		}
		return time.Unix(0, k*d).UTC()
	}
	midnight := g.midnight(t)
	if g.Every >= day {
		// Whole days, counted from 1970-01-01 in the zone's calendar.
		n := int64(g.Every / day)
		y, m, d := midnight.Date()
		days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
		k := days / n
		if days%n < 0 {
			k--
		}
		return time.Date(1970, 1, 1+int(k*n), 0, 0, 0, 0, g.Loc)
	}
	return midnight.Add(t.Sub(midnight) / g.Every * g.Every)
}

// Next is the start of the interval after the one starting at start (a
// value Floor or Next returned).
func (g Grid) Next(start time.Time) time.Time {
	if !g.local() {
		return start.Add(g.Every)
	}
	y, m, d := start.In(g.Loc).Date()
	if g.Every >= day {
		return time.Date(y, m, d+int(g.Every/day), 0, 0, 0, 0, g.Loc)
	}
	next, tomorrow := start.Add(g.Every), g.midnight(time.Date(y, m, d+1, 12, 0, 0, 0, g.Loc))
	if next.Before(tomorrow) {
		return next
	}
	return tomorrow
}

// midnight is the start of t's local day: its midnight, or in a zone whose
// clocks skip midnight, the first instant of that date.
func (g Grid) midnight(t time.Time) time.Time {
	y, m, d := t.In(g.Loc).Date()
	at := time.Date(y, m, d, 0, 0, 0, 0, g.Loc)
	if ay, am, ad := at.Date(); ay != y || am != m || ad != d {
		// time.Date put the missing midnight on the day before: the day
		// begins when the clocks jump, an hour later.
		at = at.Add(time.Hour)
	}
	return at
}
