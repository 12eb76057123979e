-- 0002_feeds: several feeds in one database. Every row gets a feed
-- ('default' for what was stored before), events are keyed by (feed, id)
-- and spells by (feed, event_id, version), the ledger is read per feed, and
-- events and spells gain starts_at and ends_at. The rows stored before get
-- those two from their raw in Go after this file (fillSchedule0002 in
-- pkg/store/migrate_0002.go).
-- SQLite cannot change a primary key, so events and event_versions are
-- rebuilt (copy, drop, rename: renaming events_new also rewrites the
-- foreign key that event_versions_new has on it).

ALTER TABLE fetch_runs ADD COLUMN feed TEXT NOT NULL DEFAULT 'default';

DROP INDEX fetch_runs_status_id;

-- Each fetch and status read a feed's latest successful run.
CREATE INDEX fetch_runs_feed_status_id ON fetch_runs (feed, status, id);

CREATE TABLE events_new (
	feed TEXT NOT NULL,
	id TEXT NOT NULL,
	headline TEXT NOT NULL DEFAULT '',
	event_type TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	lat REAL,
	lon REAL,
	status TEXT NOT NULL DEFAULT '',
	event_subtypes TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	roads TEXT NOT NULL DEFAULT '',
	areas TEXT NOT NULL DEFAULT '',
	created DATETIME,
	updated DATETIME,
	starts_at DATETIME,
	ends_at DATETIME,
	geometry_type TEXT NOT NULL DEFAULT '',
	geometry TEXT NOT NULL DEFAULT '',
	first_seen_at DATETIME NOT NULL,
	last_seen_at DATETIME, -- NULL while open: the feed's latest successful run's started_at
	closed_at DATETIME,
	current_version INTEGER NOT NULL,
	content_hash TEXT NOT NULL,
	raw TEXT NOT NULL,
	PRIMARY KEY (feed, id)
);

-- The content columns of 0001 are copied; starts_at and ends_at stay NULL.
INSERT INTO events_new (feed, id, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry, first_seen_at, last_seen_at, closed_at, current_version, content_hash, raw)
	SELECT 'default', id, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry, first_seen_at, last_seen_at, closed_at, current_version, content_hash, raw FROM events;

CREATE TABLE event_versions_new (
	feed TEXT NOT NULL,
	event_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	first_run_id BIGINT NOT NULL REFERENCES fetch_runs (id),
	last_run_id BIGINT REFERENCES fetch_runs (id), -- NULL while open: the feed's latest successful run
	valid_from DATETIME NOT NULL,
	valid_to DATETIME, -- NULL while open
	content_hash TEXT NOT NULL,
	headline TEXT NOT NULL DEFAULT '',
	event_type TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	lat REAL,
	lon REAL,
	status TEXT NOT NULL DEFAULT '',
	event_subtypes TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	roads TEXT NOT NULL DEFAULT '',
	areas TEXT NOT NULL DEFAULT '',
	created DATETIME,
	updated DATETIME,
	starts_at DATETIME,
	ends_at DATETIME,
	geometry_type TEXT NOT NULL DEFAULT '',
	geometry TEXT NOT NULL DEFAULT '',
	raw TEXT NOT NULL,
	PRIMARY KEY (feed, event_id, version),
	FOREIGN KEY (feed, event_id) REFERENCES events_new (feed, id)
);

INSERT INTO event_versions_new (feed, event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry, raw)
	SELECT 'default', event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry, raw FROM event_versions;

DROP TABLE event_versions;

DROP TABLE events;

ALTER TABLE events_new RENAME TO events;

ALTER TABLE event_versions_new RENAME TO event_versions;

-- Each fetch reads its feed's open events' ids and hashes: a covering
-- partial index keeps that read off the wide rows.
CREATE INDEX events_open ON events (feed, id, content_hash, current_version) WHERE closed_at IS NULL;

-- The snapshots export sweeps spells in the order they begin.
CREATE INDEX event_versions_first_run ON event_versions (first_run_id, feed, event_id);
