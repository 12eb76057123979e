-- 0004_content_in_spells: an event's content (typed columns, geometry,
-- schedule, raw and hash) lives in its spells only; events keeps identity
-- and lifecycle (feed, id, first seen, last seen, closed, current version)
-- and reads its content from its current spell. Until now the content was
-- written twice, the current spell being a copy of the event's row.
--
-- Nothing is lost: the migration stops, changing nothing, if any event's
-- content is not exactly that of its current spell.

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM events e
		LEFT JOIN event_versions v ON v.feed = e.feed AND v.event_id = e.id AND v.version = e.current_version
		WHERE v.event_id IS NULL
		OR e.content_hash IS DISTINCT FROM v.content_hash
	OR e.raw IS DISTINCT FROM v.raw
	OR e.headline IS DISTINCT FROM v.headline
	OR e.event_type IS DISTINCT FROM v.event_type
	OR e.severity IS DISTINCT FROM v.severity
	OR e.lat IS DISTINCT FROM v.lat
	OR e.lon IS DISTINCT FROM v.lon
	OR e.status IS DISTINCT FROM v.status
	OR e.event_subtypes IS DISTINCT FROM v.event_subtypes
	OR e.description IS DISTINCT FROM v.description
	OR e.roads IS DISTINCT FROM v.roads
	OR e.areas IS DISTINCT FROM v.areas
	OR e.created IS DISTINCT FROM v.created
	OR e.updated IS DISTINCT FROM v.updated
	OR e.starts_at IS DISTINCT FROM v.starts_at
	OR e.ends_at IS DISTINCT FROM v.ends_at
	OR e.geometry_type IS DISTINCT FROM v.geometry_type
	OR e.geometry IS DISTINCT FROM v.geometry) THEN
		RAISE EXCEPTION 'an event''s content differs from its current spell: nothing was changed';
	END IF;
END
$$;

-- The views name the columns that go: they are made again below.
DROP VIEW events_view;
DROP VIEW versions_view;
DROP VIEW snapshots_view;

-- Each run reads its feed's open events with their hashes from their open
-- spells: a covering partial index keeps that read off the wide rows.
DROP INDEX events_open;
CREATE INDEX event_versions_open ON event_versions (feed, event_id, version, content_hash) WHERE last_run_id IS NULL;

ALTER TABLE events
	DROP COLUMN headline,
	DROP COLUMN event_type,
	DROP COLUMN severity,
	DROP COLUMN lat,
	DROP COLUMN lon,
	DROP COLUMN status,
	DROP COLUMN event_subtypes,
	DROP COLUMN description,
	DROP COLUMN roads,
	DROP COLUMN areas,
	DROP COLUMN created,
	DROP COLUMN updated,
	DROP COLUMN starts_at,
	DROP COLUMN ends_at,
	DROP COLUMN geometry_type,
	DROP COLUMN geometry,
	DROP COLUMN content_hash,
	DROP COLUMN raw;

CREATE VIEW events_view AS
SELECT e.feed, e.id, v.headline, v.event_type, v.severity, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	e.first_seen_at,
	COALESCE(e.last_seen_at, l.started_at) AS last_seen_at,
	e.closed_at,
	v.raw,
	e.closed_at IS NULL AS is_open
FROM events e
	JOIN event_versions v ON v.feed = e.feed AND v.event_id = e.id AND v.version = e.current_version
	LEFT JOIN (SELECT feed, id, started_at FROM fetch_runs
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

-- A spell covers the successful runs of its feed from its first run to
-- its last; an open one (last_run_id NULL) to the latest.
CREATE VIEW snapshots_view AS
SELECT v.feed, r.id AS run_id, r.started_at AS observed_at, v.event_id AS id, v.headline, v.event_type, v.severity, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM fetch_runs r JOIN event_versions v
	ON v.feed = r.feed AND v.first_run_id <= r.id AND (v.last_run_id IS NULL OR r.id <= v.last_run_id)
WHERE r.status = 'succeeded';
