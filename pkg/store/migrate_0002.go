package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"gorm.io/gorm"
)

// This file is part of migration 0002_feeds, and is history like its SQL:
// never edit it, and never make it call code that can change (traffic's
// time parsing, the Open511 decoder). SQL cannot express the fill on both
// dialects (several timestamp layouts, local times, the earliest start and
// latest end of several intervals, an open interval), so the Go that did it
// when 0002 was released is kept here as it was.

// fillSchedule0002 sets starts_at and ends_at of the rows stored before
// 0002 from their raw, as the Open511 decoder of that release did: every
// such row came from an Open511 feed (the only format then), read in UTC.
func fillSchedule0002(tx *gorm.DB) error {
	if err := fillSchedule0002Table(tx, "events", "id", "current_version"); err != nil {
		return err
	}
	return fillSchedule0002Table(tx, "event_versions", "event_id", "version")
}

func fillSchedule0002Table(tx *gorm.DB, table, idColumn, versionColumn string) error {
	type span struct {
		id           string
		version      int
		starts, ends *time.Time
	}
	rows, err := tx.Raw("SELECT " + idColumn + ", " + versionColumn + ", raw FROM " + table).Rows()
	if err != nil {
		return fmt.Errorf("read %s for starts_at and ends_at: %w", table, err)
	}
	var spans []span
	var p fastjson.Parser
	for rows.Next() {
		var sp span
		var raw []byte
		if err := rows.Scan(&sp.id, &sp.version, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("read %s for starts_at and ends_at: %w", table, err)
		}
		v, err := p.ParseBytes(raw)
		if err != nil {
			continue // stored raw is always JSON; leave NULL if not
		}
		var intervals []string
		for _, iv := range v.GetArray("schedule", "intervals") {
			if iv.Type() == fastjson.TypeString {
				intervals = append(intervals, string(iv.GetStringBytes()))
			}
		}
		if sp.starts, sp.ends = intervalSpan0002(intervals); sp.starts != nil || sp.ends != nil {
			spans = append(spans, sp)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	arg := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return *t
	}
	for _, sp := range spans {
		err := tx.Exec("UPDATE "+table+" SET starts_at = ?, ends_at = ? WHERE feed = 'default' AND "+idColumn+" = ? AND "+versionColumn+" = ?",
			arg(sp.starts), arg(sp.ends), sp.id, sp.version).Error
		if err != nil {
			return fmt.Errorf("fill in starts_at and ends_at of %s: %w", table, err)
		}
	}
	return nil
}

// intervalSpan0002 reads ISO 8601 intervals "start/end" (Open511's
// schedule.intervals) and returns the earliest start and the latest end;
// an interval without an end makes the end unknown (nil), and a part that
// does not parse is left out.
func intervalSpan0002(intervals []string) (starts, ends *time.Time) {
	open := false
	for _, iv := range intervals {
		from, to, _ := strings.Cut(iv, "/")
		s, ok := parseTime0002(from)
		if !ok {
			continue
		}
		if starts == nil || s.Before(*starts) {
			starts = &s
		}
		if strings.TrimSpace(to) == "" {
			open = true
			continue
		}
		if e, ok := parseTime0002(to); ok && (ends == nil || e.After(*ends)) {
			ends = &e
		}
	}
	if open {
		ends = nil
	}
	return starts, ends
}

// parseTime0002 reads a timestamp in UTC: RFC 3339 with any fraction, or
// minute precision ("2023-05-31T13:17Z"); without an offset, as UTC.
func parseTime0002(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
