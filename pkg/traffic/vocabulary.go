package traffic

import "strings"

// Categories are one vocabulary of what an event is, across feed formats
// (the feed's own event_type stays in its column). The README's mapping
// table says which source values give which; migration 0006_vocabulary
// derives the same from stored raw, so the two must change together.
const (
	CategoryIncident      = "incident"
	CategoryConstruction  = "construction"
	CategorySpecialEvent  = "special-event"
	CategoryWeather       = "weather"
	CategoryRoadCondition = "road-condition"
	CategoryDetour        = "detour"
	CategoryRestriction   = "restriction"
	CategoryOther         = "other"
)

// Categories lists the categories.
var Categories = []string{CategoryIncident, CategoryConstruction, CategorySpecialEvent, CategoryWeather,
	CategoryRoadCondition, CategoryDetour, CategoryRestriction, CategoryOther}

// Impacts say what an event does to the road, across feed formats.
const (
	ImpactRoadClosed  = "road-closed"
	ImpactLanesClosed = "lanes-closed"
	ImpactLanesOpen   = "lanes-open"
	ImpactUnknown     = "unknown"
)

// TrimRoad trims the white space SQL's trim(x, chars) in migration
// 0006_vocabulary trims: spaces, tabs and line breaks.
func TrimRoad(s string) string { return strings.Trim(s, " \t\n\r") }

// Key is a source value as the mappings compare it: trimmed as TrimRoad
// does, with ASCII letters in lower case and no others changed, as
// SQLite's lower() and PostgreSQL's lower(… COLLATE "C") do.
func Key(s string) string {
	b := []byte(TrimRoad(s))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Direction is a road's direction in one vocabulary: northbound,
// southbound, eastbound, westbound or both for the usual spellings (N,
// NB, North, Northbound, BOTH, any case), empty for none, unknown or
// undefined, and anything else as sent (trimmed).
func Direction(s string) string {
	switch Key(s) {
	case "n", "nb", "north", "northbound":
		return "northbound"
	case "s", "sb", "south", "southbound":
		return "southbound"
	case "e", "eb", "east", "eastbound":
		return "eastbound"
	case "w", "wb", "west", "westbound":
		return "westbound"
	case "both", "both directions":
		return "both"
	case "", "none", "unknown", "undefined":
		return ""
	}
	return TrimRoad(s)
}
