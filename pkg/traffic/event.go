// Package traffic is trafficctl's domain, shared by the feed decoders
// (open511, wzdx), the store and the exports: a traffic event with typed
// fields, its geometry and schedule, its canonical raw JSON and content
// hash, and the one list of event columns. It imports nothing of ours.
package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Event is one traffic event, flattened into the columns trafficctl stores.
// Raw keeps the whole object (canonical JSON), so nothing the feed sent is lost.
type Event struct {
	ID            string
	Headline      string
	EventType     string
	Severity      string
	Lat, Lon      *float64
	Status        string
	EventSubtypes string // joined with "; "
	Description   string
	Roads         string // "I-880 N (Northbound); CA-17 S (Southbound)"
	Category      string // one of Categories, from the feed's type
	Impact        string // one of the Impact values, from the feed's lane states
	Road          string // the first road's name: "I-880 N"
	Direction     string // the first road's direction (see Direction): "northbound"
	Areas         string // names joined with "; "
	Created       *time.Time
	Updated       *time.Time
	StartsAt      *time.Time // when it is scheduled to begin
	EndsAt        *time.Time // when it is scheduled to end
	GeometryType  string
	Geometry      string // compact GeoJSON geometry: {"type":...,"coordinates":...}
	Raw           string // canonical JSON of the event object
	ContentHash   string // hex SHA-256 of Raw (first 16 bytes)
	// HashOnly says that only ID and ContentHash are set: the caller of
	// Stream told the decoder it already holds this content, and building
	// the rest would be wasted (docs/benchmarks.md, "What each fast path
	// buys").
	HashOnly bool
}

// Unchanged is the event of an object already stored with this content:
// its id and hash only (see HashOnly).
func Unchanged(id, contentHash string) Event {
	return Event{ID: id, ContentHash: contentHash, HashOnly: true}
}

// ErrNoID marks an event object without a usable id; it is skipped.
var ErrNoID = errors.New("event has no id")

// MaxIDBytes is the longest id stored. Longer ones are skipped: an id is a
// key, and PostgreSQL's btree refuses index rows of more than about 2.7 KB.
const MaxIDBytes = 255

// Hash is the content hash of a canonical raw object.
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// Kind is the type of a column.
type Kind uint8

// Column kinds.
const (
	Text  Kind = iota
	Float      // *float64, NULL when nil
	Time       // *time.Time, NULL when nil
	JSON       // JSON text (the geometry), empty when there is none
)

// Field is one typed column of an event's content.
type Field struct {
	Name string
	Kind Kind
	// Ref points at the field in e: a *string (Text, JSON), a **float64
	// (Float) or a **time.Time (Time).
	Ref func(e *Event) any
}

// Fields are the event's content columns, in the order every table and
// export has them (after the table's own leading columns and the id).
// Adding a column is one line here, plus its migration.
var Fields = []Field{
	{"headline", Text, func(e *Event) any { return &e.Headline }},
	{"event_type", Text, func(e *Event) any { return &e.EventType }},
	{"severity", Text, func(e *Event) any { return &e.Severity }},
	{"category", Text, func(e *Event) any { return &e.Category }},
	{"impact", Text, func(e *Event) any { return &e.Impact }},
	{"lat", Float, func(e *Event) any { return &e.Lat }},
	{"lon", Float, func(e *Event) any { return &e.Lon }},
	{"status", Text, func(e *Event) any { return &e.Status }},
	{"event_subtypes", Text, func(e *Event) any { return &e.EventSubtypes }},
	{"description", Text, func(e *Event) any { return &e.Description }},
	{"roads", Text, func(e *Event) any { return &e.Roads }},
	{"road", Text, func(e *Event) any { return &e.Road }},
	{"direction", Text, func(e *Event) any { return &e.Direction }},
	{"areas", Text, func(e *Event) any { return &e.Areas }},
	{"created", Time, func(e *Event) any { return &e.Created }},
	{"updated", Time, func(e *Event) any { return &e.Updated }},
	{"starts_at", Time, func(e *Event) any { return &e.StartsAt }},
	{"ends_at", Time, func(e *Event) any { return &e.EndsAt }},
	{"geometry_type", Text, func(e *Event) any { return &e.GeometryType }},
	{"geometry", JSON, func(e *Event) any { return &e.Geometry }},
}

// FieldNames are the names of Fields.
func FieldNames() []string {
	names := make([]string, len(Fields))
	for i, f := range Fields {
		names[i] = f.Name
	}
	return names
}

// Value is field f of e as a database argument: a string, a float64, a
// time.Time, or nil for NULL.
func (f Field) Value(e *Event) any {
	switch p := f.Ref(e).(type) {
	case *string:
		return *p
	case **float64:
		if *p == nil {
			return nil
		}
		return **p
	case **time.Time:
		if *p == nil {
			return nil
		}
		return **p
	}
	return nil
}

// Snapshot counts what one complete read of a feed held.
type Snapshot struct {
	Pages      int
	Received   int // event objects read, duplicates and skipped ones included
	Skipped    int // objects without a usable id, or not objects
	Duplicates int // ids seen more than once
}

// A Feed reads complete snapshots of one feed, whatever its format.
type Feed interface {
	// Stream reads one complete snapshot and hands its events to sink in
	// feed order, a page (or a batch) at a time. An id met again is handed
	// on again: its later content counts. If stored is not nil, an event it
	// reports as stored with this content is handed on as its ID and
	// ContentHash only, with HashOnly set. On error the snapshot is incomplete, and undoing
	// what sink did is the caller's business.
	Stream(ctx context.Context, stored func(id, contentHash string) bool, sink func(events []Event) error) (Snapshot, error)
}

// ReadAll reads one complete snapshot into memory: unique ids in feed
// order, a repeated id keeping its last content.
func ReadAll(ctx context.Context, f Feed) ([]Event, Snapshot, error) {
	var events []Event
	index := map[string]int{}
	snap, err := f.Stream(ctx, nil, func(page []Event) error {
		for _, e := range page {
			if i, dup := index[e.ID]; dup {
				events[i] = e
				continue
			}
			index[e.ID] = len(events)
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return nil, snap, err
	}
	return events, snap, nil
}
