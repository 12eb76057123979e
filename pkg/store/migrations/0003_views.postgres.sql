-- 0003_views: events_view, versions_view and snapshots_view, for reading the
-- tables with SQL without knowing that open rows store NULL ends. Each has
-- its export's columns in the export's order (raw included), the ends and
-- last runs filled in from the feed's latest successful run, and is_open
-- last. The text is the same on both dialects: a comparison is a boolean on
-- PostgreSQL and 0/1 on SQLite; COALESCE of two times is a time on
-- PostgreSQL and the text the table holds on SQLite. A view lists its
-- columns when it is created: a migration that adds or drops a column of
-- events or event_versions, or rebuilds them on SQLite, drops these views
-- first and creates them again after.

CREATE VIEW events_view AS
SELECT e.feed, e.id, e.headline, e.event_type, e.severity, e.lat, e.lon, e.status, e.event_subtypes, e.description, e.roads, e.areas, e.created, e.updated, e.starts_at, e.ends_at, e.geometry_type, e.geometry,
	e.first_seen_at,
	COALESCE(e.last_seen_at, l.started_at) AS last_seen_at,
	e.closed_at,
	e.raw,
	e.closed_at IS NULL AS is_open
FROM events e LEFT JOIN (SELECT feed, id, started_at FROM fetch_runs
		WHERE id IN (SELECT MAX(id) FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed)) l ON l.feed = e.feed;

CREATE VIEW versions_view AS
SELECT v.feed, v.event_id, v.version, v.first_run_id,
	COALESCE(v.last_run_id, l.id) AS last_run_id,
	v.valid_from,
	COALESCE(v.valid_to, l.started_at) AS valid_to,
	v.content_hash, v.headline, v.event_type, v.severity, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM event_versions v LEFT JOIN (SELECT feed, id, started_at FROM fetch_runs
		WHERE id IN (SELECT MAX(id) FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed)) l ON l.feed = v.feed;

-- A spell covers the successful runs of its feed from its first run to its
-- last; an open one (last_run_id NULL) to the latest, which no successful
-- run of the feed comes after, so it needs no bound there.
CREATE VIEW snapshots_view AS
SELECT v.feed, r.id AS run_id, r.started_at AS observed_at, v.event_id AS id, v.headline, v.event_type, v.severity, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM fetch_runs r JOIN event_versions v
	ON v.feed = r.feed AND v.first_run_id <= r.id AND (v.last_run_id IS NULL OR r.id <= v.last_run_id)
WHERE r.status = 'succeeded';
