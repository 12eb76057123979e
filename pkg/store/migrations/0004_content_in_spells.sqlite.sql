-- 0004_content_in_spells: an event's content (typed columns, geometry,
-- schedule, raw and hash) lives in its spells only; events keeps identity
-- and lifecycle (feed, id, first seen, last seen, closed, current version)
-- and reads its content from its current spell. Until now the content was
-- written twice, the current spell being a copy of the event's row.
--
-- Nothing is lost: the migration stops, changing nothing, if any event's
-- content is not exactly that of its current spell.

CREATE TEMP TABLE content_in_spells_check (
	differing INTEGER NOT NULL,
	CONSTRAINT every_event_has_its_content_in_its_current_spell CHECK (differing = 0)
);
INSERT INTO content_in_spells_check
SELECT COUNT(*) FROM events e
	LEFT JOIN event_versions v ON v.feed = e.feed AND v.event_id = e.id AND v.version = e.current_version
WHERE v.event_id IS NULL
	OR e.content_hash IS NOT v.content_hash
	OR e.raw IS NOT v.raw
	OR e.headline IS NOT v.headline
	OR e.event_type IS NOT v.event_type
	OR e.severity IS NOT v.severity
	OR e.lat IS NOT v.lat
	OR e.lon IS NOT v.lon
	OR e.status IS NOT v.status
	OR e.event_subtypes IS NOT v.event_subtypes
	OR e.description IS NOT v.description
	OR e.roads IS NOT v.roads
	OR e.areas IS NOT v.areas
	OR e.created IS NOT v.created
	OR e.updated IS NOT v.updated
	OR e.starts_at IS NOT v.starts_at
	OR e.ends_at IS NOT v.ends_at
	OR e.geometry_type IS NOT v.geometry_type
	OR e.geometry IS NOT v.geometry;
DROP TABLE content_in_spells_check;

-- The views name the columns that go: they are made again below.
DROP VIEW events_view;
DROP VIEW versions_view;
DROP VIEW snapshots_view;

-- Each run reads its feed's open events with their hashes from their open
-- spells: a covering partial index keeps that read off the wide rows.
DROP INDEX events_open;
CREATE INDEX event_versions_open ON event_versions (feed, event_id, version, content_hash) WHERE last_run_id IS NULL;

-- DROP COLUMN rewrites only events (narrow once done); a copy-and-rename
-- would have to rebuild event_versions too, for its foreign key.
ALTER TABLE events DROP COLUMN headline;
ALTER TABLE events DROP COLUMN event_type;
ALTER TABLE events DROP COLUMN severity;
ALTER TABLE events DROP COLUMN lat;
ALTER TABLE events DROP COLUMN lon;
ALTER TABLE events DROP COLUMN status;
ALTER TABLE events DROP COLUMN event_subtypes;
ALTER TABLE events DROP COLUMN description;
ALTER TABLE events DROP COLUMN roads;
ALTER TABLE events DROP COLUMN areas;
ALTER TABLE events DROP COLUMN created;
ALTER TABLE events DROP COLUMN updated;
ALTER TABLE events DROP COLUMN starts_at;
ALTER TABLE events DROP COLUMN ends_at;
ALTER TABLE events DROP COLUMN geometry_type;
ALTER TABLE events DROP COLUMN geometry;
ALTER TABLE events DROP COLUMN content_hash;
ALTER TABLE events DROP COLUMN raw;

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
