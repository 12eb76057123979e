package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
)

// Lifetime is one event's whole life in its feed: from the first
// successful run that listed it to the run that no longer did (or, while
// it is open, its feed's latest successful run).
type Lifetime struct {
	Feed, ID string
	// Headline, EventType, Category, Impact, Road, Direction, Lat and Lon
	// are the latest state's.
	Headline, EventType, Category, Impact, Road, Direction string
	Lat, Lon                                               *float64
	// SeverityFirst is the first spell's severity, SeverityLast the latest's.
	SeverityFirst, SeverityLast string
	FirstSeenAt, LastSeenAt     time.Time
	ClosedAt                    *time.Time // nil while open
	Versions                    int        // spells
	RunsPresent                 int        // successful runs of its feed that listed it
	// SeenAtStart says that its feed's first successful run listed it: it
	// began before the collection did, so its true start is not known.
	SeenAtStart bool
}

// Open says whether the event is still open: its true end is not known yet.
func (l *Lifetime) Open() bool { return l.ClosedAt == nil }

// Duration is from first seen to closed, or to last seen while open.
func (l *Lifetime) Duration() time.Duration {
	end := l.LastSeenAt
	if l.ClosedAt != nil {
		end = *l.ClosedAt
	}
	return end.Sub(l.FirstSeenAt)
}

// Lifetimes streams one Lifetime per event, ordered by feed and id. f
// selects events as Events does: by their latest state, and with
// Since/Until by overlap of [first_seen_at, last_seen_at]. The counts
// (spells, runs present) are over the event's whole history, whatever the
// filter. The row passed to fn is reused.
//
// It reads each event's spells in order (feed, event_id, version), so it
// holds one event at a time. The runs each spell spans are the difference
// of the numbers the ledger's summary gives its first and last run (on a
// database not migrated to 0005_ledger_index yet, they are counted among
// its feed's successful run ids, all read first).
func (s *Store) Lifetimes(ctx context.Context, f Filter, fn func(*Lifetime) error) error {
	return s.read(ctx, func(db *gorm.DB) error {
		w, latest, err := s.spanFilter(db, f, "id", "first_seen_at", "last_seen_at")
		if err != nil {
			return err
		}
		// A spell's runs are counted from the numbers the ledger's summary
		// gives each successful run; without it, from every successful
		// run's id.
		indexed := s.indexed(db)
		var runIDs map[string][]int64 // per feed, ascending
		var seqs map[string]int64     // per feed, the latest success's number
		if indexed {
			if seqs, err = s.successCounts(db); err != nil {
				return err
			}
		} else {
			runs, err := s.successfulRuns(db, Filter{Feeds: f.Feeds})
			if err != nil {
				return err
			}
			runIDs = map[string][]int64{}
			for _, r := range runs {
				runIDs[r.Feed] = append(runIDs[r.Feed], r.ID)
			}
		}
		seqColumns, seqJoins := "NULL, NULL", ""
		if indexed {
			seqColumns = "fs.seq, ls.seq"
			seqJoins = `
LEFT JOIN ledger_successes fs ON fs.run_id = v.first_run_id
LEFT JOIN ledger_successes ls ON ls.run_id = v.last_run_id`
		}
		q := `SELECT e.feed, e.id, e.headline, e.event_type, e.category, e.impact, e.road, e.direction, e.lat, e.lon, e.severity, e.first_seen_at, e.last_seen_at, e.closed_at,
	v.first_run_id, v.last_run_id, v.severity, ` + seqColumns + `
FROM (SELECT feed, id, headline, event_type, category, impact, road, direction, lat, lon, severity, first_seen_at, last_seen_at, closed_at FROM ` + currentEvents + w.String() + `) e
JOIN event_versions v ON v.feed = e.feed AND v.event_id = e.id` + seqJoins + `
ORDER BY e.feed, e.id, v.version`
		rows, err := db.Raw(q, w.args...).Rows()
		if err != nil {
			return s.dbError("read event lifetimes", err)
		}
		defer rows.Close()
		var (
			cur, l           Lifetime
			lat, lon         sql.NullFloat64
			lastSeen, closed sql.NullTime
			firstRun         int64
			lastRun          sql.NullInt64
			spellSeverity    string
			firstSeq         sql.NullInt64
			lastSeq          sql.NullInt64
			started          bool
		)
		dest := []any{&l.Feed, &l.ID, &l.Headline, &l.EventType, &l.Category, &l.Impact, &l.Road, &l.Direction, &lat, &lon, &l.SeverityLast, &l.FirstSeenAt, &lastSeen, &closed,
			&firstRun, &lastRun, &spellSeverity, &firstSeq, &lastSeq}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return s.dbError("read event lifetimes", err)
			}
			if !started || l.Feed != cur.Feed || l.ID != cur.ID {
				if started {
					if err := fn(&cur); err != nil {
						return err
					}
				}
				started = true
				ids := runIDs[l.Feed]
				cur = l
				cur.Lat, cur.Lon = nullFloat(lat), nullFloat(lon)
				cur.FirstSeenAt = l.FirstSeenAt.UTC()
				cur.LastSeenAt = *orTime(nullTime(lastSeen), latest[l.Feed].Started)
				cur.ClosedAt = nullTime(closed)
				cur.SeverityFirst = spellSeverity
				cur.SeenAtStart = len(ids) > 0 && ids[0] == firstRun
				if indexed {
					cur.SeenAtStart = firstSeq.Int64 == 1
				}
				cur.Versions, cur.RunsPresent = 0, 0
			}
			cur.Versions++
			if !indexed {
				last := latest[l.Feed].ID
				if lastRun.Valid {
					last = lastRun.Int64
				}
				cur.RunsPresent += countIn(runIDs[l.Feed], firstRun, last)
				continue
			}
			last := seqs[l.Feed] // open: to the latest success
			if lastRun.Valid {
				last = lastSeq.Int64
			}
			if !firstSeq.Valid || (lastRun.Valid && !lastSeq.Valid) {
				return fmt.Errorf("read event lifetimes on %s: the ledger's summary has no run %d or %d; run trafficctl migrate", s.display, firstRun, lastRun.Int64)
			}
			cur.RunsPresent += max(int(last-firstSeq.Int64+1), 0)
		}
		if err := rows.Err(); err != nil {
			return s.dbError("read event lifetimes", err)
		}
		if started {
			return fn(&cur)
		}
		return nil
	})
}

// successCounts is each feed's number of successful runs: the latest's
// number in ledger_successes.
func (s *Store) successCounts(db *gorm.DB) (map[string]int64, error) {
	var feeds []struct {
		Feed           string
		SuccessfulRuns int64
	}
	if err := db.Table("ledger_feeds").Find(&feeds).Error; err != nil {
		return nil, s.dbError("read the ledger", err)
	}
	out := make(map[string]int64, len(feeds))
	for _, f := range feeds {
		out[f.Feed] = f.SuccessfulRuns
	}
	return out, nil
}

// countIn counts the ids (ascending) in [from, to].
func countIn(ids []int64, from, to int64) int {
	lo := sort.Search(len(ids), func(i int) bool { return ids[i] >= from })
	hi := sort.Search(len(ids), func(i int) bool { return ids[i] > to })
	return max(hi-lo, 0)
}
