package traffic

import (
	"fmt"
	"strings"
	"time"
)

// zonedLayouts are the forms feeds write with an offset: RFC 3339 with
// seconds and any fraction (DriveBC, WZDx), and 511.org's minute precision
// ("2023-05-31T13:17Z"), which time.RFC3339 rejects.
var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
}

// localLayouts are the same without an offset: a local time of the feed.
var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
}

// ParseTime reads a feed's timestamp and returns it in UTC. A time without
// an offset is read in loc, the feed's time zone (UTC when nil).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 or Open511 timestamp", s)
}

// IntervalSpan reads ISO 8601 intervals written "start/end", as Open511's
// schedule.intervals are, and returns the earliest start and the latest
// end. An interval without an end ("start/") is open: the span's end is
// then unknown (nil). A part that does not parse is reported in bad and
// left out.
func IntervalSpan(intervals []string, loc *time.Location) (starts, ends *time.Time, bad []string) {
	open := false
	for _, iv := range intervals {
		from, to, _ := strings.Cut(iv, "/")
		if s, err := ParseTime(from, loc); err == nil {
			if starts == nil || s.Before(*starts) {
				starts = &s
			}
		} else {
			bad = append(bad, iv)
			continue
		}
		if strings.TrimSpace(to) == "" {
			open = true
			continue
		}
		if e, err := ParseTime(to, loc); err == nil {
			if ends == nil || e.After(*ends) {
				ends = &e
			}
		} else {
			bad = append(bad, iv)
		}
	}
	if open {
		ends = nil
	}
	return starts, ends, bad
}
