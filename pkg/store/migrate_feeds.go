package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// migrateFeeds is 0002_feeds: several feeds in one database. Every row
// gets a feed ("default" for what was stored before), events are keyed by
// (feed, id) and spells by (feed, event_id, version), the ledger is read
// per feed, and events and spells gain starts_at and ends_at, filled in
// from each row's raw.
//
// SQLite cannot change a primary key, so it rebuilds events and
// event_versions (copy, drop, rename: renaming events_new also rewrites
// the foreign key that event_versions_new has on it). PostgreSQL alters
// them in place.
func (s *Store) migrateFeeds(tx *gorm.DB) error {
	_, ts, float, raw := s.types()
	stmts := []string{
		`ALTER TABLE fetch_runs ADD COLUMN feed TEXT NOT NULL DEFAULT 'default'`,
		`DROP INDEX fetch_runs_status_id`,
		// Each fetch and status read a feed's latest successful run.
		`CREATE INDEX fetch_runs_feed_status_id ON fetch_runs (feed, status, id)`,
	}
	// The content columns of 0001, fixed history: not traffic.Fields, which
	// has grown since.
	oldFields := "headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry"
	if s.dialect == Postgres {
		stmts = append(stmts,
			`ALTER TABLE events ADD COLUMN feed TEXT NOT NULL DEFAULT 'default', ADD COLUMN starts_at TIMESTAMPTZ, ADD COLUMN ends_at TIMESTAMPTZ`,
			`ALTER TABLE event_versions ADD COLUMN feed TEXT NOT NULL DEFAULT 'default', ADD COLUMN starts_at TIMESTAMPTZ, ADD COLUMN ends_at TIMESTAMPTZ`,
			`ALTER TABLE event_versions DROP CONSTRAINT event_versions_event_id_fkey, DROP CONSTRAINT event_versions_pkey`,
			`ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (feed, id)`,
			`ALTER TABLE event_versions ADD PRIMARY KEY (feed, event_id, version), ADD FOREIGN KEY (feed, event_id) REFERENCES events (feed, id)`,
			`DROP INDEX events_open`,
			`DROP INDEX event_versions_first_run`,
		)
	} else {
		fields := fieldsDDL(float, ts)
		stmts = append(stmts,
			`CREATE TABLE events_new (
	feed TEXT NOT NULL,
	id TEXT NOT NULL,
	`+fields+`,
	first_seen_at `+ts+` NOT NULL,
	last_seen_at `+ts+`, -- NULL while open: the feed's latest successful run's started_at
	closed_at `+ts+`,
	current_version INTEGER NOT NULL,
	content_hash TEXT NOT NULL,
	raw `+raw+` NOT NULL,
	PRIMARY KEY (feed, id)
)`,
			`INSERT INTO events_new (feed, id, `+oldFields+`, first_seen_at, last_seen_at, closed_at, current_version, content_hash, raw)
	SELECT 'default', id, `+oldFields+`, first_seen_at, last_seen_at, closed_at, current_version, content_hash, raw FROM events`,
			`CREATE TABLE event_versions_new (
	feed TEXT NOT NULL,
	event_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	first_run_id BIGINT NOT NULL REFERENCES fetch_runs (id),
	last_run_id BIGINT REFERENCES fetch_runs (id), -- NULL while open: the feed's latest successful run
	valid_from `+ts+` NOT NULL,
	valid_to `+ts+`, -- NULL while open
	content_hash TEXT NOT NULL,
	`+fields+`,
	raw `+raw+` NOT NULL,
	PRIMARY KEY (feed, event_id, version),
	FOREIGN KEY (feed, event_id) REFERENCES events_new (feed, id)
)`,
			`INSERT INTO event_versions_new (feed, event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, `+oldFields+`, raw)
	SELECT 'default', event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, `+oldFields+`, raw FROM event_versions`,
			`DROP TABLE event_versions`,
			`DROP TABLE events`,
			`ALTER TABLE events_new RENAME TO events`,
			`ALTER TABLE event_versions_new RENAME TO event_versions`,
		)
	}
	stmts = append(stmts,
		// Each fetch reads its feed's open events' ids and hashes: a
		// covering partial index keeps that read off the wide rows.
		`CREATE INDEX events_open ON events (feed, id, content_hash, current_version) WHERE closed_at IS NULL`,
		// The snapshots export sweeps spells in the order they begin.
		`CREATE INDEX event_versions_first_run ON event_versions (first_run_id, feed, event_id)`,
	)
	if err := execAll(tx, stmts); err != nil {
		return err
	}
	if err := fillSchedule(tx, eventsTable, "id", "current_version"); err != nil {
		return err
	}
	return fillSchedule(tx, versionsTable, "event_id", "version")
}

// fieldsDDL declares the event's content columns (traffic.Fields).
func fieldsDDL(float, ts string) string {
	var cols []string
	for _, f := range traffic.Fields {
		switch f.Kind {
		case traffic.Float:
			cols = append(cols, f.Name+" "+float)
		case traffic.Time:
			cols = append(cols, f.Name+" "+ts)
		default:
			cols = append(cols, f.Name+" TEXT NOT NULL DEFAULT ''")
		}
	}
	return strings.Join(cols, ",\n\t")
}

// fillSchedule sets starts_at and ends_at of the rows stored before 0002
// from their raw, as the Open511 decoder does for new ones: every such row
// came from an Open511 feed (the only format then), read in UTC. The
// schedule's path in an Open511 event is fixed history here, not a
// dependency on the format's package.
func fillSchedule(tx *gorm.DB, table, idColumn, versionColumn string) error {
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
		if sp.starts, sp.ends, _ = traffic.IntervalSpan(intervals, time.UTC); sp.starts != nil || sp.ends != nil {
			spans = append(spans, sp)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, sp := range spans {
		err := tx.Exec("UPDATE "+table+" SET starts_at = ?, ends_at = ? WHERE feed = 'default' AND "+idColumn+" = ? AND "+versionColumn+" = ?",
			timeArg(sp.starts), timeArg(sp.ends), sp.id, sp.version).Error
		if err != nil {
			return fmt.Errorf("fill in starts_at and ends_at of %s: %w", table, err)
		}
	}
	return nil
}
