-- 0006_vocabulary: one vocabulary across feeds, in four new columns of each
-- spell (event_versions, where an event's content lives): category and
-- impact (from Open511 event_type and roads[].state, WZDx event_type and
-- vehicle_impact), and road and direction (of the first road). They are
-- filled here from the raw each spell stored, so nothing is read that a
-- later trafficctl could change; the decoders (pkg/open511, pkg/wzdx)
-- derive the same for new rows, and a test checks that the two agree on
-- every fixture event. The README has the mapping table.
--
-- A row is WZDx when its raw has "properties" or "geometry" (a GeoJSON
-- feature), Open511 otherwise ("geography"). A value that is not a JSON
-- string counts as none; values are compared in ASCII lower case, trimmed
-- of spaces, tabs and line breaks.

ALTER TABLE event_versions ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE event_versions ADD COLUMN impact TEXT NOT NULL DEFAULT '';
ALTER TABLE event_versions ADD COLUMN road TEXT NOT NULL DEFAULT '';
ALTER TABLE event_versions ADD COLUMN direction TEXT NOT NULL DEFAULT '';

UPDATE event_versions SET
	-- WZDx: event_type (3.x without one: work-zone); Open511: event_type.
	category = CASE WHEN (json_type(raw, '$.properties') IS NOT NULL OR json_type(raw, '$.geometry') IS NOT NULL)
		THEN CASE lower(trim(CASE WHEN COALESCE(CASE WHEN json_type(raw, '$.properties.core_details') = 'object' AND COALESCE(json_type(raw, '$.properties.core_details.event_type'), 'null') <> 'null' THEN CASE WHEN json_type(raw, '$.properties.core_details.event_type') = 'text' THEN json_extract(raw, '$.properties.core_details.event_type') END ELSE CASE WHEN json_type(raw, '$.properties.event_type') = 'text' THEN json_extract(raw, '$.properties.event_type') END END, '') = '' AND NOT COALESCE(json_type(raw, '$.properties.core_details') = 'object', false) THEN 'work-zone' ELSE COALESCE(CASE WHEN json_type(raw, '$.properties.core_details') = 'object' AND COALESCE(json_type(raw, '$.properties.core_details.event_type'), 'null') <> 'null' THEN CASE WHEN json_type(raw, '$.properties.core_details.event_type') = 'text' THEN json_extract(raw, '$.properties.core_details.event_type') END ELSE CASE WHEN json_type(raw, '$.properties.event_type') = 'text' THEN json_extract(raw, '$.properties.event_type') END END, '') END, char(32, 9, 10, 13))) WHEN 'work-zone' THEN 'construction' WHEN 'detour' THEN 'detour' WHEN 'restriction' THEN 'restriction' WHEN 'incident' THEN 'incident' WHEN 'special-event' THEN 'special-event' ELSE 'other' END
		ELSE CASE lower(trim(COALESCE(CASE WHEN json_type(raw, '$.event_type') = 'text' THEN json_extract(raw, '$.event_type') END, ''), char(32, 9, 10, 13))) WHEN 'incident' THEN 'incident' WHEN 'construction' THEN 'construction' WHEN 'special_event' THEN 'special-event' WHEN 'weather_condition' THEN 'weather' WHEN 'road_condition' THEN 'road-condition' ELSE 'other' END END,
	-- WZDx: vehicle_impact; Open511: the worst state of roads[].
	impact = CASE WHEN (json_type(raw, '$.properties') IS NOT NULL OR json_type(raw, '$.geometry') IS NOT NULL)
		THEN CASE lower(trim(COALESCE(CASE WHEN json_type(raw, '$.properties.vehicle_impact') = 'text' THEN json_extract(raw, '$.properties.vehicle_impact') END, ''), char(32, 9, 10, 13))) WHEN 'all-lanes-closed' THEN 'road-closed' WHEN 'some-lanes-closed' THEN 'lanes-closed' WHEN 'some-lanes-closed-merge-left' THEN 'lanes-closed' WHEN 'some-lanes-closed-merge-right' THEN 'lanes-closed' WHEN 'some-lanes-closed-split' THEN 'lanes-closed' WHEN 'alternating-one-way' THEN 'lanes-closed' WHEN 'flagging' THEN 'lanes-closed' WHEN 'temporary-traffic-signal' THEN 'lanes-closed' WHEN 'all-lanes-open' THEN 'lanes-open' WHEN 'all-lanes-open-shift-left' THEN 'lanes-open' WHEN 'all-lanes-open-shift-right' THEN 'lanes-open' ELSE 'unknown' END
		ELSE CASE WHEN NOT COALESCE(json_type(raw, '$.roads') = 'array', false) THEN 'unknown' WHEN EXISTS (SELECT 1 FROM json_each(raw, '$.roads') AS r WHERE json_type(raw, r.fullkey || '.state') = 'text' AND lower(trim(json_extract(raw, r.fullkey || '.state'), char(32, 9, 10, 13))) IN ('closed')) THEN 'road-closed' WHEN EXISTS (SELECT 1 FROM json_each(raw, '$.roads') AS r WHERE json_type(raw, r.fullkey || '.state') = 'text' AND lower(trim(json_extract(raw, r.fullkey || '.state'), char(32, 9, 10, 13))) IN ('some_lanes_closed', 'single_lane_alternating')) THEN 'lanes-closed' WHEN EXISTS (SELECT 1 FROM json_each(raw, '$.roads') AS r WHERE json_type(raw, r.fullkey || '.state') = 'text' AND lower(trim(json_extract(raw, r.fullkey || '.state'), char(32, 9, 10, 13))) IN ('all_lanes_open')) THEN 'lanes-open' ELSE 'unknown' END END,
	-- WZDx: road_names[0] (3.0: road_number, else road_name); Open511: roads[0].name.
	road = CASE WHEN (json_type(raw, '$.properties') IS NOT NULL OR json_type(raw, '$.geometry') IS NOT NULL)
		THEN CASE WHEN COALESCE(json_type(raw, '$.properties.core_details') = 'object', false) AND COALESCE(json_type(raw, '$.properties.core_details.road_names'), 'null') <> 'null' THEN (CASE WHEN (json_type(raw, '$.properties.core_details.road_names') = 'array' AND json_array_length(raw, '$.properties.core_details.road_names') > 0) THEN COALESCE(trim(CASE WHEN json_type(raw, '$.properties.core_details.road_names[0]') = 'text' THEN json_extract(raw, '$.properties.core_details.road_names[0]') END, char(32, 9, 10, 13)), '') ELSE '' END) WHEN (json_type(raw, '$.properties.road_names') = 'array' AND json_array_length(raw, '$.properties.road_names') > 0) THEN COALESCE(trim(CASE WHEN json_type(raw, '$.properties.road_names[0]') = 'text' THEN json_extract(raw, '$.properties.road_names[0]') END, char(32, 9, 10, 13)), '') WHEN COALESCE(json_type(raw, '$.properties.core_details') = 'object', false) THEN '' ELSE COALESCE(NULLIF(trim(CASE WHEN json_type(raw, '$.properties.road_number') = 'text' THEN json_extract(raw, '$.properties.road_number') END, char(32, 9, 10, 13)), ''), trim(CASE WHEN json_type(raw, '$.properties.road_name') = 'text' THEN json_extract(raw, '$.properties.road_name') END, char(32, 9, 10, 13)), '') END
		ELSE COALESCE(trim(CASE WHEN json_type(raw, '$.roads[0].name') = 'text' THEN json_extract(raw, '$.roads[0].name') END, char(32, 9, 10, 13)), '') END,
	-- WZDx: direction; Open511: roads[0].direction.
	direction = CASE WHEN (json_type(raw, '$.properties') IS NOT NULL OR json_type(raw, '$.geometry') IS NOT NULL)
		THEN CASE lower(trim(COALESCE(COALESCE(CASE WHEN json_type(raw, '$.properties.core_details') = 'object' AND COALESCE(json_type(raw, '$.properties.core_details.direction'), 'null') <> 'null' THEN CASE WHEN json_type(raw, '$.properties.core_details.direction') = 'text' THEN json_extract(raw, '$.properties.core_details.direction') END ELSE CASE WHEN json_type(raw, '$.properties.direction') = 'text' THEN json_extract(raw, '$.properties.direction') END END, ''), ''), char(32, 9, 10, 13))) WHEN 'n' THEN 'northbound' WHEN 'nb' THEN 'northbound' WHEN 'north' THEN 'northbound' WHEN 'northbound' THEN 'northbound' WHEN 's' THEN 'southbound' WHEN 'sb' THEN 'southbound' WHEN 'south' THEN 'southbound' WHEN 'southbound' THEN 'southbound' WHEN 'e' THEN 'eastbound' WHEN 'eb' THEN 'eastbound' WHEN 'east' THEN 'eastbound' WHEN 'eastbound' THEN 'eastbound' WHEN 'w' THEN 'westbound' WHEN 'wb' THEN 'westbound' WHEN 'west' THEN 'westbound' WHEN 'westbound' THEN 'westbound' WHEN 'both' THEN 'both' WHEN 'both directions' THEN 'both' WHEN '' THEN '' WHEN 'none' THEN '' WHEN 'unknown' THEN '' WHEN 'undefined' THEN '' ELSE trim(COALESCE(CASE WHEN json_type(raw, '$.properties.core_details') = 'object' AND COALESCE(json_type(raw, '$.properties.core_details.direction'), 'null') <> 'null' THEN CASE WHEN json_type(raw, '$.properties.core_details.direction') = 'text' THEN json_extract(raw, '$.properties.core_details.direction') END ELSE CASE WHEN json_type(raw, '$.properties.direction') = 'text' THEN json_extract(raw, '$.properties.direction') END END, ''), char(32, 9, 10, 13)) END
		ELSE CASE lower(trim(COALESCE(COALESCE(CASE WHEN json_type(raw, '$.roads[0].direction') = 'text' THEN json_extract(raw, '$.roads[0].direction') END, ''), ''), char(32, 9, 10, 13))) WHEN 'n' THEN 'northbound' WHEN 'nb' THEN 'northbound' WHEN 'north' THEN 'northbound' WHEN 'northbound' THEN 'northbound' WHEN 's' THEN 'southbound' WHEN 'sb' THEN 'southbound' WHEN 'south' THEN 'southbound' WHEN 'southbound' THEN 'southbound' WHEN 'e' THEN 'eastbound' WHEN 'eb' THEN 'eastbound' WHEN 'east' THEN 'eastbound' WHEN 'eastbound' THEN 'eastbound' WHEN 'w' THEN 'westbound' WHEN 'wb' THEN 'westbound' WHEN 'west' THEN 'westbound' WHEN 'westbound' THEN 'westbound' WHEN 'both' THEN 'both' WHEN 'both directions' THEN 'both' WHEN '' THEN '' WHEN 'none' THEN '' WHEN 'unknown' THEN '' WHEN 'undefined' THEN '' ELSE trim(COALESCE(CASE WHEN json_type(raw, '$.roads[0].direction') = 'text' THEN json_extract(raw, '$.roads[0].direction') END, ''), char(32, 9, 10, 13)) END END;

-- The views name every column: they are made again with the new ones.
DROP VIEW events_view;
DROP VIEW versions_view;
DROP VIEW snapshots_view;

CREATE VIEW events_view AS
SELECT e.feed, e.id, v.headline, v.event_type, v.severity, v.category, v.impact, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.road, v.direction, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
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
	v.content_hash, v.headline, v.event_type, v.severity, v.category, v.impact, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.road, v.direction, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM event_versions v LEFT JOIN (SELECT feed, id, started_at FROM fetch_runs
		WHERE id IN (SELECT MAX(id) FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed)) l ON l.feed = v.feed;

-- A spell covers the successful runs of its feed from its first run to
-- its last; an open one (last_run_id NULL) to the latest.
CREATE VIEW snapshots_view AS
SELECT v.feed, r.id AS run_id, r.started_at AS observed_at, v.event_id AS id, v.headline, v.event_type, v.severity, v.category, v.impact, v.lat, v.lon, v.status, v.event_subtypes, v.description, v.roads, v.road, v.direction, v.areas, v.created, v.updated, v.starts_at, v.ends_at, v.geometry_type, v.geometry,
	v.raw,
	v.last_run_id IS NULL AS is_open
FROM fetch_runs r JOIN event_versions v
	ON v.feed = r.feed AND v.first_run_id <= r.id AND (v.last_run_id IS NULL OR r.id <= v.last_run_id)
WHERE r.status = 'succeeded';
