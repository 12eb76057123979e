package store

import (
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// TestFillSchedule0002MatchesTheDecoder: the frozen copy in 0002 gives the
// span that traffic.IntervalSpan (what the Open511 decoder uses, read in
// UTC) gives at the release of 0002, for every form of interval a feed
// writes. Should the decoder change on purpose, these cases get literal
// expectations instead; 0002 stays as it is.
func TestFillSchedule0002MatchesTheDecoder(t *testing.T) {
	for _, intervals := range [][]string{
		nil,
		{"2021-04-27T16:02Z/"},
		{"2021-04-27T16:01Z/2021-04-27T22:01Z"},
		{"2021-04-27T23:00Z/2021-04-28T06:00Z", "2021-04-26T23:00Z/2021-04-27T06:00Z"},
		{"2021-04-27T23:00Z/2021-04-28T06:00Z", "2021-04-29T23:00Z/"},
		{"2021-04-27T16:01:02.5-07:00/2021-04-27T22:01:00+02:00"},
		{"2021-04-27T16:01:02/2021-04-27T22:01"},
		{" 2021-04-27T16:01Z / 2021-04-27T22:01Z "},
		{"yesterday/2021-04-27T22:01Z", "2021-04-27T16:01Z/tomorrow"},
		{"2021-04-27T16:01Z"},
		{"/2021-04-27T22:01Z"},
	} {
		gotStarts, gotEnds := intervalSpan0002(intervals)
		wantStarts, wantEnds, _ := traffic.IntervalSpan(intervals, time.UTC)
		if !sameTime(gotStarts, wantStarts) || !sameTime(gotEnds, wantEnds) {
			t.Errorf("%q: 0002 reads %v to %v, the decoder %v to %v", intervals, gotStarts, gotEnds, wantStarts, wantEnds)
		}
	}
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}
