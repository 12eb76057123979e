package store

import (
	"time"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// DefaultFeed is the feed of a single-feed configuration, and of every row
// stored before feeds existed.
const DefaultFeed = "default"

// Event is one event of one feed as the events export gives it: its row of
// events (Feed, ID, FirstSeenAt, LastSeenAt, ClosedAt, CurrentVersion:
// identity and lifecycle) with its content, which is stored once, in its
// current spell (the event_versions row CurrentVersion), and read from
// there. events has no content columns.
type Event struct {
	Feed string
	traffic.Event
	FirstSeenAt time.Time
	// LastSeenAt is NULL in the table while the event is open: it was seen
	// by its feed's latest successful run, and storing that would rewrite
	// every open event on every run. It is set when the event closes. The
	// streaming queries always fill it in.
	LastSeenAt     *time.Time
	ClosedAt       *time.Time // set when a successful run no longer lists the event
	CurrentVersion int        // the event_versions row of its latest spell
}

// EventVersion is a row of event_versions: one spell, a stretch of
// consecutive successful runs of its feed in which an event was present
// with identical content, and that content (typed columns, geometry,
// schedule, raw and hash). Event.ID is the event's id (event_id).
//
// An open spell (the event is present, unchanged, in its feed's latest
// successful run) has NULL LastRunID and ValidTo in the table: its end is
// always that run, so it is not stored, and an unchanged run writes
// nothing but its ledger row. They are set when the spell ends. The
// streaming queries always fill them in. An event is open exactly while
// its current spell is.
type EventVersion struct {
	Feed       string
	Version    int
	FirstRunID int64
	LastRunID  *int64
	ValidFrom  time.Time
	ValidTo    *time.Time
	traffic.Event
}

// Run statuses.
const (
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// FetchRun is a row of fetch_runs, the ledger: one per run of one feed.
type FetchRun struct {
	ID              int64 `gorm:"primaryKey"`
	Feed            string
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

// Table names.
const (
	eventsTable   = "events"
	versionsTable = "event_versions"
)
