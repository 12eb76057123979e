// Package export writes stored data as CSV, JSON Lines, GeoJSON or Parquet, one row
// at a time from the store's streaming queries, so memory stays flat
// whatever the row count.
package export

import (
	"context"
	"fmt"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// Kind is how a cell is written.
type Kind uint8

// Cell kinds.
const (
	Text  Kind = iota
	Int        // int64
	Float      // float64, or NULL
	Time       // RFC 3339 UTC with seconds, or NULL
	JSON       // JSON text: a string in CSV, nested in JSON formats, NULL when empty
)

// Column is one output column.
type Column struct {
	Name string
	Kind Kind
}

// Cell is one value. Null marks NULL (an empty CSV field, JSON null).
type Cell struct {
	S    string
	I    int64
	F    float64
	T    time.Time
	Null bool
}

// Table names.
const (
	Events    = "events"
	Versions  = "versions"
	Runs      = "runs"
	Snapshots = "snapshots"
)

// Tables lists the exportable tables.
var Tables = []string{Events, Versions, Runs, Snapshots}

// fieldColumns are the event columns shared by events, versions and snapshots.
var fieldColumns = []Column{
	{"headline", Text}, {"event_type", Text}, {"severity", Text}, {"lat", Float}, {"lon", Float},
	{"status", Text}, {"event_subtypes", Text}, {"description", Text}, {"roads", Text}, {"areas", Text},
	{"created", Time}, {"updated", Time}, {"geometry_type", Text}, {"geometry", JSON},
}

func concat(parts ...[]Column) []Column {
	var out []Column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	eventColumns = concat([]Column{{"id", Text}}, fieldColumns,
		[]Column{{"first_seen_at", Time}, {"last_seen_at", Time}, {"closed_at", Time}})
	versionColumns = concat([]Column{{"event_id", Text}, {"version", Int}, {"first_run_id", Int}, {"last_run_id", Int},
		{"valid_from", Time}, {"valid_to", Time}, {"content_hash", Text}}, fieldColumns)
	runColumns = []Column{{"id", Int}, {"started_at", Time}, {"finished_at", Time}, {"status", Text}, {"source_url", Text},
		{"pages", Int}, {"events_received", Int}, {"events_new", Int}, {"events_changed", Int}, {"events_unchanged", Int},
		{"events_closed", Int}, {"events_skipped", Int}, {"error", Text}, {"version", Text}}
	snapshotColumns = concat([]Column{{"run_id", Int}, {"observed_at", Time}, {"id", Text}}, fieldColumns)
)

// rawColumn is appended for the JSON formats of tables that keep raw.
var rawColumn = Column{"raw", JSON}

func setFields(c []Cell, f *store.EventFields) {
	c[0].S, c[1].S, c[2].S = f.Headline, f.EventType, f.Severity
	setFloat(&c[3], f.Lat)
	setFloat(&c[4], f.Lon)
	c[5].S, c[6].S, c[7].S, c[8].S, c[9].S = f.Status, f.EventSubtypes, f.Description, f.Roads, f.Areas
	setTime(&c[10], f.Created)
	setTime(&c[11], f.Updated)
	c[12].S, c[13].S = f.GeometryType, f.Geometry
}

func setFloat(c *Cell, f *float64) {
	c.Null = f == nil
	if f != nil {
		c.F = *f
	}
}

func setTime(c *Cell, t *time.Time) {
	c.Null = t == nil
	if t != nil {
		c.T = *t
	}
}

func setInt(c *Cell, i int64)    { c.I, c.Null = i, false }
func setAt(c *Cell, t time.Time) { c.T, c.Null = t, false }

func setIntPtr(c *Cell, i *int64) {
	c.Null = i == nil
	if i != nil {
		c.I = *i
	}
}

// stream feeds one table's rows to emit as cells.
func stream(ctx context.Context, st *store.Store, table string, f store.Filter, emit func([]Cell) error) error {
	nf := len(fieldColumns)
	switch table {
	case Events:
		cells := make([]Cell, len(eventColumns)+1)
		return st.Events(ctx, f, func(e *store.Event) error {
			cells[0].S = e.ID
			setFields(cells[1:], &e.EventFields)
			setAt(&cells[1+nf], e.FirstSeenAt)
			setTime(&cells[2+nf], e.LastSeenAt)
			setTime(&cells[3+nf], e.ClosedAt)
			cells[4+nf].S = e.Raw
			return emit(cells)
		})
	case Versions:
		cells := make([]Cell, len(versionColumns)+1)
		return st.Versions(ctx, f, func(v *store.EventVersion) error {
			cells[0].S = v.EventID
			setInt(&cells[1], int64(v.Version))
			setInt(&cells[2], v.FirstRunID)
			setIntPtr(&cells[3], v.LastRunID)
			setAt(&cells[4], v.ValidFrom)
			setTime(&cells[5], v.ValidTo)
			cells[6].S = v.ContentHash
			setFields(cells[7:], &v.EventFields)
			cells[7+nf].S = v.Raw
			return emit(cells)
		})
	case Snapshots:
		cells := make([]Cell, len(snapshotColumns)+1)
		return st.Snapshots(ctx, f, func(r *store.SnapshotRow) error {
			setInt(&cells[0], r.RunID)
			setAt(&cells[1], r.ObservedAt)
			cells[2].S = r.EventID
			setFields(cells[3:], &r.EventFields)
			cells[3+nf].S = r.Raw
			return emit(cells)
		})
	case Runs:
		cells := make([]Cell, len(runColumns))
		return st.Runs(ctx, f, func(r *store.FetchRun) error {
			setInt(&cells[0], r.ID)
			setAt(&cells[1], r.StartedAt)
			setAt(&cells[2], r.FinishedAt)
			cells[3].S, cells[4].S = r.Status, r.SourceURL
			for i, n := range []int{r.Pages, r.EventsReceived, r.EventsNew, r.EventsChanged, r.EventsUnchanged, r.EventsClosed, r.EventsSkipped} {
				setInt(&cells[5+i], int64(n))
			}
			cells[12].S, cells[13].S = r.Error, r.Version
			return emit(cells)
		})
	}
	return fmt.Errorf("unknown table %q (use events, versions, runs or snapshots)", table)
}

func withRaw(cols []Column, raw bool) []Column {
	if !raw {
		return cols
	}
	return append(cols[:len(cols):len(cols)], rawColumn)
}

// Header returns the columns a table is exported with.
func Header(table string, format Format) []Column {
	raw := includeRaw(table, format, nil)
	switch table {
	case Events:
		return withRaw(eventColumns, raw)
	case Versions:
		return withRaw(versionColumns, raw)
	case Snapshots:
		return withRaw(snapshotColumns, raw)
	case Runs:
		return runColumns
	}
	return nil
}
