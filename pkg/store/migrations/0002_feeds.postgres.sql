-- 0002_feeds: several feeds in one database. Every row gets a feed
-- ('default' for what was stored before), events are keyed by (feed, id)
-- and spells by (feed, event_id, version), the ledger is read per feed, and
-- events and spells gain starts_at and ends_at. The rows stored before get
-- those two from their raw in Go after this file (fillSchedule0002 in
-- pkg/store/migrate_0002.go).
-- PostgreSQL alters events and event_versions in place.

ALTER TABLE fetch_runs ADD COLUMN feed TEXT NOT NULL DEFAULT 'default';

DROP INDEX fetch_runs_status_id;

-- Each fetch and status read a feed's latest successful run.
CREATE INDEX fetch_runs_feed_status_id ON fetch_runs (feed, status, id);

ALTER TABLE events ADD COLUMN feed TEXT NOT NULL DEFAULT 'default', ADD COLUMN starts_at TIMESTAMPTZ, ADD COLUMN ends_at TIMESTAMPTZ;

ALTER TABLE event_versions ADD COLUMN feed TEXT NOT NULL DEFAULT 'default', ADD COLUMN starts_at TIMESTAMPTZ, ADD COLUMN ends_at TIMESTAMPTZ;

ALTER TABLE event_versions DROP CONSTRAINT event_versions_event_id_fkey, DROP CONSTRAINT event_versions_pkey;

ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (feed, id);

ALTER TABLE event_versions ADD PRIMARY KEY (feed, event_id, version), ADD FOREIGN KEY (feed, event_id) REFERENCES events (feed, id);

DROP INDEX events_open;

DROP INDEX event_versions_first_run;

-- Each fetch reads its feed's open events' ids and hashes: a covering
-- partial index keeps that read off the wide rows.
CREATE INDEX events_open ON events (feed, id, content_hash, current_version) WHERE closed_at IS NULL;

-- The snapshots export sweeps spells in the order they begin.
CREATE INDEX event_versions_first_run ON event_versions (first_run_id, feed, event_id);
