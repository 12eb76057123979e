-- 0001_initial: the ledger of runs, the current events, and their spells
-- (event_versions), for one Open511 feed. jsonb for raw (queryable), timestamptz so times are unambiguous.

CREATE TABLE fetch_runs (
	id BIGSERIAL PRIMARY KEY,
	started_at TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ NOT NULL,
	status TEXT NOT NULL,
	source_url TEXT NOT NULL DEFAULT '',
	pages INTEGER NOT NULL DEFAULT 0,
	events_received INTEGER NOT NULL DEFAULT 0,
	events_new INTEGER NOT NULL DEFAULT 0,
	events_changed INTEGER NOT NULL DEFAULT 0,
	events_unchanged INTEGER NOT NULL DEFAULT 0,
	events_closed INTEGER NOT NULL DEFAULT 0,
	events_skipped INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT ''
);

-- The latest successful run is looked up by every fetch and status.
CREATE INDEX fetch_runs_status_id ON fetch_runs (status, id);

CREATE TABLE events (
	id TEXT PRIMARY KEY,
	headline TEXT NOT NULL DEFAULT '',
	event_type TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	lat DOUBLE PRECISION,
	lon DOUBLE PRECISION,
	status TEXT NOT NULL DEFAULT '',
	event_subtypes TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	roads TEXT NOT NULL DEFAULT '',
	areas TEXT NOT NULL DEFAULT '',
	created TIMESTAMPTZ,
	updated TIMESTAMPTZ,
	geometry_type TEXT NOT NULL DEFAULT '',
	geometry TEXT NOT NULL DEFAULT '',
	first_seen_at TIMESTAMPTZ NOT NULL,
	last_seen_at TIMESTAMPTZ, -- NULL while open: the latest successful run's started_at
	closed_at TIMESTAMPTZ,
	current_version INTEGER NOT NULL,
	content_hash TEXT NOT NULL,
	raw JSONB NOT NULL
);

-- Each fetch reads the open events' ids and hashes: a covering partial
-- index keeps that read off the wide rows.
CREATE INDEX events_open ON events (id, content_hash, current_version) WHERE closed_at IS NULL;

CREATE TABLE event_versions (
	event_id TEXT NOT NULL REFERENCES events (id),
	version INTEGER NOT NULL,
	first_run_id BIGINT NOT NULL REFERENCES fetch_runs (id),
	last_run_id BIGINT REFERENCES fetch_runs (id), -- NULL while open: the latest successful run
	valid_from TIMESTAMPTZ NOT NULL,
	valid_to TIMESTAMPTZ, -- NULL while open
	content_hash TEXT NOT NULL,
	headline TEXT NOT NULL DEFAULT '',
	event_type TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	lat DOUBLE PRECISION,
	lon DOUBLE PRECISION,
	status TEXT NOT NULL DEFAULT '',
	event_subtypes TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	roads TEXT NOT NULL DEFAULT '',
	areas TEXT NOT NULL DEFAULT '',
	created TIMESTAMPTZ,
	updated TIMESTAMPTZ,
	geometry_type TEXT NOT NULL DEFAULT '',
	geometry TEXT NOT NULL DEFAULT '',
	raw JSONB NOT NULL,
	PRIMARY KEY (event_id, version)
);

-- The snapshots export sweeps spells in the order they begin.
CREATE INDEX event_versions_first_run ON event_versions (first_run_id, event_id);
