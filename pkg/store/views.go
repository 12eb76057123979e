package store

// Views, for reading the tables with SQL (pandas, a notebook, psql) without
// knowing that open rows store NULL ends: each has the columns of its
// export, in the export's order (raw included, as JSON Lines has it: jsonb
// on PostgreSQL), with the ends and last runs filled in from the feed's
// latest successful run as the export does, and a last column is_open
// (boolean on PostgreSQL, 0/1 on SQLite, which has no boolean type).
// Migration 0003_views creates them (migrations/0003_views.*.sql).
const (
	EventsView    = "events_view"
	VersionsView  = "versions_view"
	SnapshotsView = "snapshots_view"
)
