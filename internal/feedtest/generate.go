package feedtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Generated events copy the shape of testdata/511/events_page1.json (511.org
// in 2021): the same members, nesting and extension fields, about 1.5 KB
// each as the feed writes them (indented), a fifth of them LineStrings. They
// are for benchmarks and the demo, where a few thousand distinct,
// realistic events are needed and the fixtures hold five.

var (
	genRoads = []string{"I-880 N", "I-80 E", "US-101 S", "CA-17 S", "I-280 N", "CA-24 W", "I-580 E", "CA-92 W", "I-680 S", "CA-1 N"}
	genDirs  = []string{"Northbound", "Southbound", "Eastbound", "Westbound", "Both directions"}
	genAreas = []struct {
		name string
		id   int
	}{{"Santa Clara", 5393021}, {"Solano", 5396987}, {"Alameda", 5322745}, {"San Mateo", 5392423}, {"Contra Costa", 5339268}, {"Marin", 5370468}}
	genCross = []string{"Montague Expy", "Travis Blvd", "Bayshore Fwy", "Hegenberger Rd", "Alemany Blvd", "Fremont Blvd", "El Camino Real", "Stevens Creek Blvd"}
	genKinds = []struct{ typ, sub, severity string }{
		{"INCIDENT", "Traffic Collision", "Major"}, {"INCIDENT", "Disabled vehicle", "Minor"},
		{"CONSTRUCTION", "Road construction", "Moderate"}, {"SPECIAL_EVENT", "Parade", "Minor"},
		{"INCIDENT", "Debris on roadway", "Unknown"}, {"ROAD_CONDITION", "Flooding", "Major"},
	}
)

// genEvent is one generated event, in the member order 511.org writes.
type genEvent struct {
	URL             string          `json:"url"`
	JurisdictionURL string          `json:"jurisdiction_url"`
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Headline        string          `json:"headline"`
	EventType       string          `json:"event_type"`
	EventSubtypes   []string        `json:"event_subtypes"`
	Severity        string          `json:"severity"`
	Created         string          `json:"created"`
	Updated         string          `json:"updated"`
	Areas           []genArea       `json:"areas"`
	Geography       genGeography    `json:"geography"`
	SourceType      string          `json:"+source_type"`
	SourceID        string          `json:"+source_id"`
	Roads           []genRoad       `json:"roads"`
	Schedule        json.RawMessage `json:"schedule"`
	Description     string          `json:"description,omitempty"`
}

type genArea struct {
	Name string `json:"name"`
	ID   int    `json:"id"`
	URL  string `json:"url"`
}

type genGeography struct {
	Type string `json:"type"`
	CRS  struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	} `json:"crs"`
	Coordinates json.RawMessage `json:"coordinates"`
}

type genRoad struct {
	Name         string `json:"name"`
	From         string `json:"from"`
	Direction    string `json:"direction"`
	State        string `json:"state"`
	LaneType     string `json:"+lane_type"`
	LaneStatus   string `json:"+lane_status"`
	RoadAdvisory string `json:"+road_advisory"`
	Article      string `json:"+article"`
}

// genBase is the time the generated events are created around.
var genBase = time.Date(2021, 4, 27, 15, 0, 0, 0, time.UTC)

// GenerateEvents returns n distinct events, the same for the same seed.
// Event i has id "bench.511/<seed*10^7+i>".
func GenerateEvents(n int, seed uint64) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range n {
		out[i] = GenerateEvent(i, seed, 0)
	}
	return out
}

// GenerateEvent returns event i of the seed's set at revision rev. Only
// "updated" and the headline depend on rev, so revisions of one event are
// changed content under the same id.
func GenerateEvent(i int, seed, rev uint64) json.RawMessage {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	kind := genKinds[r.IntN(len(genKinds))]
	road := genRoads[r.IntN(len(genRoads))]
	dir := genDirs[r.IntN(len(genDirs))]
	area := genAreas[r.IntN(len(genAreas))]
	cross := genCross[r.IntN(len(genCross))]
	num := seed*10_000_000 + uint64(i)
	id := "bench.511/" + strconv.FormatUint(num, 10)
	created := genBase.Add(-time.Duration(r.IntN(72*60)) * time.Minute)
	updated := created.Add(time.Duration(r.IntN(120)+int(rev)) * time.Minute)
	lon, lat := -122.5+r.Float64()*1.2, 37.2+r.Float64()*1.1
	e := genEvent{
		URL:             "/traffic/events/" + id,
		JurisdictionURL: "http://api.511.org/jurisdictions/",
		ID:              id,
		Status:          "ACTIVE",
		Headline: fmt.Sprintf("CHP : %s on %s %s at %s (%s). Right lane blocked. Expect delays.",
			kind.sub, road, dir, cross, area.name),
		EventType:     kind.typ,
		EventSubtypes: []string{kind.sub},
		Severity:      kind.severity,
		Created:       created.Format("2006-01-02T15:04Z"),
		Updated:       updated.Format("2006-01-02T15:04Z"),
		Areas:         []genArea{{Name: area.name, ID: area.id, URL: "http://geonames.org/" + strconv.Itoa(area.id) + "/"}},
		SourceType:    "CHP",
		SourceID:      fmt.Sprintf("210427GG%05d", i%100000),
		Roads: []genRoad{{
			Name: road, From: cross, Direction: dir, State: "SOME_LANES_CLOSED",
			LaneType: "Right lane", LaneStatus: "blocked", RoadAdvisory: "Expect delays", Article: "at",
		}},
		Schedule: json.RawMessage(`{"intervals":["` + updated.Format("2006-01-02T15:04Z") + `/"]}`),
	}
	if rev > 0 {
		e.Headline += " Update " + strconv.FormatUint(rev, 10) + "."
	}
	e.Geography.CRS.Type = "name"
	e.Geography.CRS.Properties.Name = "urn:ogc:def:crs:EPSG::4326"
	if i%5 == 4 { // a fifth are stretches of road, like closures
		e.Geography.Type = "LineString"
		var b strings.Builder
		b.WriteByte('[')
		for v := range 8 {
			if v > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "[%.6f,%.6f]", lon+float64(v)*0.0013, lat+float64(v)*0.0009)
		}
		b.WriteByte(']')
		e.Geography.Coordinates = json.RawMessage(b.String())
		e.Description = "Lane closure for " + strings.ToLower(kind.sub) + " between " + cross + " and the next exit. Expect delays; use alternate routes."
	} else {
		e.Geography.Type = "Point"
		e.Geography.Coordinates = json.RawMessage(fmt.Sprintf("[%.6f,%.6f]", lon, lat))
	}
	b, err := json.MarshalIndent(e, "    ", "  ") // 511.org's bodies are indented
	if err != nil {
		panic(err) // the types above always marshal
	}
	return b
}

// ChangeEvents returns a copy of events in which every step-th one (i%step
// == 0) is at revision rev: two calls with different revs differ in
// exactly those events, 1/step of them.
func ChangeEvents(events []json.RawMessage, seed uint64, step int, rev uint64) []json.RawMessage {
	out := append([]json.RawMessage(nil), events...)
	for i := 0; i < len(out); i += step {
		out[i] = GenerateEvent(i, seed, rev)
	}
	return out
}
