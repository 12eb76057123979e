package export

// includeRaw says whether an export has the raw column, the canonical JSON
// of the event as the feed sent it. By default JSON Lines has it, and
// Parquet for events and versions; snapshots repeat each event's raw once
// per run, which would make a Parquet file several times larger for
// nothing the other columns lack. CSV and GeoJSON leave it out. override,
// when set, decides instead. Runs have none.
func includeRaw(table string, format Format, override *bool) bool {
	switch {
	case !EventRows(table):
		return false // no event's raw in them
	case override != nil:
		return *override
	case format == JSONL:
		return true
	case format == Parquet:
		return table != Snapshots
	}
	return false
}

// EventRows says whether a table's rows are events, with their raw column
// and geometry.
func EventRows(table string) bool {
	return table == Events || table == Versions || table == Snapshots
}
