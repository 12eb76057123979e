package store

import (
	"strings"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Views, for reading the tables with SQL (pandas, a notebook, psql) without
// knowing that open rows store NULL ends: each has the columns of its
// export, in the export's order (raw included, as JSON Lines has it: jsonb
// on PostgreSQL), with the ends and last runs filled in from the feed's
// latest successful run as the export does, and a last column is_open
// (boolean on PostgreSQL, 0/1 on SQLite, which has no boolean type).
const (
	EventsView    = "events_view"
	VersionsView  = "versions_view"
	SnapshotsView = "snapshots_view"
)

// migrateViews is 0003_views: the three views, the same names on both
// dialects. (runs_view would be fetch_runs as it is, so there is none.)
//
// The column lists are generated from traffic.Fields as they are now. Once
// released, a migration's SQL must stay what it was, so when a column is
// added to or removed from traffic.Fields, the migration that changes the
// tables must also drop and recreate these views (a view lists its
// columns when it is created, and PostgreSQL refuses to drop a column a
// view uses), and any migration that rebuilds events or event_versions
// on SQLite (copy, drop, rename) must drop the views first and create
// them again after.
func migrateViews(tx *gorm.DB) error {
	return execAll(tx, viewsSQL())
}

// viewsSQL is the text of the views. It is the same on both dialects: a
// comparison is a boolean on PostgreSQL and an integer on SQLite, and
// COALESCE of two times is a time on PostgreSQL and the same text the
// table holds on SQLite.
func viewsSQL() []string {
	fields := func(alias string) string {
		names := traffic.FieldNames()
		for i, n := range names {
			names[i] = alias + "." + n
		}
		return strings.Join(names, ", ")
	}
	// The latest successful run of each feed: where its open events and
	// open spells end.
	const latest = `(SELECT feed, id, started_at FROM fetch_runs
		WHERE id IN (SELECT MAX(id) FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed))`
	return []string{
		`CREATE VIEW ` + EventsView + ` AS
SELECT e.feed, e.id, ` + fields("e") + `,
	e.first_seen_at,
	COALESCE(e.last_seen_at, l.started_at) AS last_seen_at,
	e.closed_at,
	e.raw,
	e.closed_at IS NULL AS is_open
FROM events e LEFT JOIN ` + latest + ` l ON l.feed = e.feed`,
		`CREATE VIEW ` + VersionsView + ` AS
SELECT v.feed, v.event_id, v.version, v.first_run_id,
	COALESCE(v.last_run_id, l.id) AS last_run_id,
	v.valid_from,
	COALESCE(v.valid_to, l.started_at) AS valid_to,
	v.content_hash, ` + fields("v") + `,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM event_versions v LEFT JOIN ` + latest + ` l ON l.feed = v.feed`,
		// A spell covers the successful runs of its feed from its first
		// run to its last; an open one (last_run_id NULL) to the latest,
		// which no successful run of the feed comes after, so it needs no
		// bound there.
		`CREATE VIEW ` + SnapshotsView + ` AS
SELECT v.feed, r.id AS run_id, r.started_at AS observed_at, v.event_id AS id, ` + fields("v") + `,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM fetch_runs r JOIN event_versions v
	ON v.feed = r.feed AND v.first_run_id <= r.id AND (v.last_run_id IS NULL OR r.id <= v.last_run_id)
WHERE r.status = 'succeeded'`,
	}
}
