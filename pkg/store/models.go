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
	FirstSeenAt    time.Time
	LastSeenAt     time.Time
	ClosedAt       *time.Time // set when a successful run no longer lists the event
	CurrentVersion int        // the event_versions row of its latest spell
	ContentHash    string
	Raw            string
}

// EventVersion is a row of event_versions: one spell, a stretch of
// consecutive successful runs in which an event was present with identical
// content.
type EventVersion struct {
	EventID     string `gorm:"primaryKey"`
	Version     int    `gorm:"primaryKey"`
	FirstRunID  int64
	LastRunID   int64
	ValidFrom   time.Time
	ValidTo     time.Time
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
