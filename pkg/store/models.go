package store

import "time"

// EventFields are the typed columns an event has, the same in the events
// table, in event_versions and in exports.
type EventFields struct {
	Headline      string
	EventType     string
	Severity      string
	Lat           *float64
	Lon           *float64
	Status        string
	EventSubtypes string
	Description   string
	Roads         string
	Areas         string
	Created       *time.Time
	Updated       *time.Time
	GeometryType  string
	Geometry      string
}

// Event is a row of events: the latest state of one event id.
type Event struct {
	ID string `gorm:"primaryKey"`
	EventFields
	FirstSeenAt time.Time
	// LastSeenAt is NULL in the table while the event is open: it was seen
	// by the latest successful run, and storing that would rewrite every open
	// event on every run. It is set when the event closes. The streaming
	// queries always fill it in.
	LastSeenAt     *time.Time
	ClosedAt       *time.Time // set when a successful run no longer lists the event
	CurrentVersion int        // the event_versions row of its latest spell
	ContentHash    string
	Raw            string
}

// EventVersion is a row of event_versions: one spell, a stretch of
// consecutive successful runs in which an event was present with identical
// content.
//
// An open spell (the event is present, unchanged, in the latest successful
// run) has NULL LastRunID and ValidTo in the table: its end is always the
// latest successful run, so it is not stored, and an unchanged run writes
// nothing but its ledger row. They are set when the spell ends. The
// streaming queries always fill them in.
type EventVersion struct {
	EventID     string `gorm:"primaryKey"`
	Version     int    `gorm:"primaryKey"`
	FirstRunID  int64
	LastRunID   *int64
	ValidFrom   time.Time
	ValidTo     *time.Time
	ContentHash string
	EventFields
	Raw string
}

// Run statuses.
const (
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// FetchRun is a row of fetch_runs, the ledger: one per trafficctl fetch.
type FetchRun struct {
	ID              int64 `gorm:"primaryKey"`
	StartedAt       time.Time
	FinishedAt      time.Time
	Status          string
	SourceURL       string // with any key removed
	Pages           int
	EventsReceived  int
	EventsNew       int
	EventsChanged   int
	EventsUnchanged int
	EventsClosed    int
	EventsSkipped   int
	Error           string
	Version         string
}
