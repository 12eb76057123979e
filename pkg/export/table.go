// Package export writes stored data as CSV, JSON Lines, GeoJSON or Parquet, one row
// at a time from the store's streaming queries, so memory stays flat
// whatever the row count.
package export

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
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
	Bool       // true or false, in CSV too
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
	B    bool
	Null bool
}

// Table names.
const (
	Events    = "events"
	Versions  = "versions"
	Runs      = "runs"
	Snapshots = "snapshots"
	Lifetimes = "lifetimes" // one row per event: its whole life
	Counts    = "counts"    // a regular time series per feed
	Changes   = "changes"   // one row per typed field changed between versions
)

// Tables lists the exportable tables.
var Tables = []string{Events, Versions, Runs, Snapshots, Lifetimes, Counts, Changes}

// fieldColumns are the event's content columns (traffic.Fields), shared by
// events, versions and snapshots.
var fieldColumns = func() []Column {
	kinds := map[traffic.Kind]Kind{traffic.Text: Text, traffic.Float: Float, traffic.Time: Time, traffic.JSON: JSON}
	var cols []Column
	for _, f := range traffic.Fields {
		cols = append(cols, Column{f.Name, kinds[f.Kind]})
	}
	return cols
}()

func concat(parts ...[]Column) []Column {
	var out []Column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	eventColumns = concat([]Column{{"feed", Text}, {"id", Text}}, fieldColumns,
		[]Column{{"first_seen_at", Time}, {"last_seen_at", Time}, {"closed_at", Time}})
	versionColumns = concat([]Column{{"feed", Text}, {"event_id", Text}, {"version", Int}, {"first_run_id", Int}, {"last_run_id", Int},
		{"valid_from", Time}, {"valid_to", Time}, {"content_hash", Text}}, fieldColumns)
	runColumns = []Column{{"feed", Text}, {"id", Int}, {"started_at", Time}, {"finished_at", Time}, {"status", Text}, {"source_url", Text},
		{"pages", Int}, {"events_received", Int}, {"events_new", Int}, {"events_changed", Int}, {"events_unchanged", Int},
		{"events_closed", Int}, {"events_skipped", Int}, {"error", Text}, {"version", Text}}
	snapshotColumns = concat([]Column{{"feed", Text}, {"run_id", Int}, {"observed_at", Time}, {"id", Text}}, fieldColumns)
	lifetimeColumns = []Column{{"feed", Text}, {"id", Text}, {"headline", Text}, {"event_type", Text},
		{"category", Text}, {"impact", Text}, {"road", Text}, {"direction", Text}, {"lat", Float}, {"lon", Float},
		{"severity_first", Text}, {"severity_last", Text}, {"first_seen_at", Time}, {"last_seen_at", Time}, {"closed_at", Time},
		{"duration_seconds", Int}, {"versions", Int}, {"runs_present", Int}, {"open", Bool}, {"seen_at_start", Bool}}
	changeColumns = []Column{{"feed", Text}, {"id", Text}, {"version", Int}, {"changed_at", Time}, {"field", Text}, {"old", Text}, {"new", Text}}
)

// countColumns are the columns of a counts series grouped by by: the group
// column is named after it, and there is none for none or feed (every row
// has its feed).
func countColumns(by string) []Column {
	cols := []Column{{"interval_start", Time}, {"interval_end", Time}, {"feed", Text}}
	if (store.Series{By: by}).Grouped() {
		cols = append(cols, Column{by, Text})
	}
	return append(cols, Column{"runs", Int}, Column{"open_events", Int}, Column{"new_events", Int}, Column{"closed_events", Int})
}

// rawColumn is appended for the JSON formats of tables that keep raw.
var rawColumn = Column{"raw", JSON}

// setFields sets the cells of e's content columns.
func setFields(c []Cell, e *traffic.Event) {
	for i, f := range traffic.Fields {
		switch p := f.Ref(e).(type) {
		case *string:
			c[i].S, c[i].Null = *p, false
		case **float64:
			setFloat(&c[i], *p)
		case **time.Time:
			setTime(&c[i], *p)
		}
	}
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

func setText(c *Cell, s *string) {
	c.S, c.Null = "", s == nil
	if s != nil {
		c.S = *s
	}
}

func setInt(c *Cell, i int64)    { c.I, c.Null = i, false }
func setBool(c *Cell, b bool)    { c.B, c.Null = b, false }
func setAt(c *Cell, t time.Time) { c.T, c.Null = t, false }

func setIntPtr(c *Cell, i *int64) {
	c.Null = i == nil
	if i != nil {
		c.I = *i
	}
}

// stream feeds one table's rows to emit as cells.
func stream(ctx context.Context, st *store.Store, opts Options, f store.Filter, emit func([]Cell) error) error {
	nf := len(fieldColumns)
	switch table := opts.Table; table {
	case Events:
		cells := make([]Cell, len(eventColumns)+1)
		return st.Events(ctx, f, func(e *store.Event) error {
			cells[0].S, cells[1].S = e.Feed, e.ID
			setFields(cells[2:], &e.Event)
			setAt(&cells[2+nf], e.FirstSeenAt)
			setTime(&cells[3+nf], e.LastSeenAt)
			setTime(&cells[4+nf], e.ClosedAt)
			cells[5+nf].S = e.Raw
			return emit(cells)
		})
	case Versions:
		cells := make([]Cell, len(versionColumns)+1)
		return st.Versions(ctx, f, func(v *store.EventVersion) error {
			cells[0].S, cells[1].S = v.Feed, v.ID
			setInt(&cells[2], int64(v.Version))
			setInt(&cells[3], v.FirstRunID)
			setIntPtr(&cells[4], v.LastRunID)
			setAt(&cells[5], v.ValidFrom)
			setTime(&cells[6], v.ValidTo)
			cells[7].S = v.ContentHash
			setFields(cells[8:], &v.Event)
			cells[8+nf].S = v.Raw
			return emit(cells)
		})
	case Snapshots:
		cells := make([]Cell, len(snapshotColumns)+1)
		return st.Snapshots(ctx, f, func(r *store.SnapshotRow) error {
			cells[0].S = r.Feed
			setInt(&cells[1], r.RunID)
			setAt(&cells[2], r.ObservedAt)
			cells[3].S = r.ID
			setFields(cells[4:], &r.Event)
			cells[4+nf].S = r.Raw
			return emit(cells)
		})
	case Runs:
		cells := make([]Cell, len(runColumns))
		return st.Runs(ctx, f, func(r *store.FetchRun) error {
			cells[0].S = r.Feed
			setInt(&cells[1], r.ID)
			setAt(&cells[2], r.StartedAt)
			setAt(&cells[3], r.FinishedAt)
			cells[4].S, cells[5].S = r.Status, r.SourceURL
			for i, n := range []int{r.Pages, r.EventsReceived, r.EventsNew, r.EventsChanged, r.EventsUnchanged, r.EventsClosed, r.EventsSkipped} {
				setInt(&cells[6+i], int64(n))
			}
			cells[13].S, cells[14].S = r.Error, r.Version
			return emit(cells)
		})
	case Lifetimes:
		cells := make([]Cell, len(lifetimeColumns)+1)
		return st.Lifetimes(ctx, f, func(l *store.Lifetime) error {
			cells[0].S, cells[1].S, cells[2].S, cells[3].S = l.Feed, l.ID, l.Headline, l.EventType
			cells[4].S, cells[5].S, cells[6].S, cells[7].S = l.Category, l.Impact, l.Road, l.Direction
			setFloat(&cells[8], l.Lat)
			setFloat(&cells[9], l.Lon)
			cells[10].S, cells[11].S = l.SeverityFirst, l.SeverityLast
			setAt(&cells[12], l.FirstSeenAt)
			setAt(&cells[13], l.LastSeenAt)
			setTime(&cells[14], l.ClosedAt)
			setInt(&cells[15], int64(l.Duration()/time.Second))
			setInt(&cells[16], int64(l.Versions))
			setInt(&cells[17], int64(l.RunsPresent))
			setBool(&cells[18], l.Open())
			setBool(&cells[19], l.SeenAtStart)
			return emit(cells)
		})
	case Changes:
		cells := make([]Cell, len(changeColumns)+1)
		return st.Changes(ctx, f, func(c *store.Change) error {
			cells[0].S, cells[1].S = c.Feed, c.ID
			setInt(&cells[2], int64(c.Version))
			setAt(&cells[3], c.ChangedAt)
			cells[4].S = c.Field
			setText(&cells[5], c.Old)
			setText(&cells[6], c.New)
			return emit(cells)
		})
	case Counts:
		grouped := opts.Series.Grouped()
		cells := make([]Cell, len(countColumns(opts.Series.By))+1)
		return st.IntervalCounts(ctx, f, opts.Series, func(c *store.IntervalCount) error {
			setAt(&cells[0], c.Start)
			setAt(&cells[1], c.End)
			cells[2].S = c.Feed
			i := 3
			if grouped {
				cells[i].S, cells[i].Null = "", c.Group == nil
				if c.Group != nil {
					cells[i].S = *c.Group
				}
				i++
			}
			setInt(&cells[i], int64(c.Runs))
			for j, n := range []int{c.Open, c.New, c.Closed} {
				setInt(&cells[i+1+j], int64(n))
				cells[i+1+j].Null = !c.HasData() // missing data, not zero
			}
			return emit(cells)
		})
	}
	return fmt.Errorf("unknown table %q (use %s)", opts.Table, tableList())
}

// tableList names the tables for messages: "events, versions, … or counts".
func tableList() string {
	return strings.Join(Tables[:len(Tables)-1], ", ") + " or " + Tables[len(Tables)-1]
}

// hasGeometry says whether a table's rows have a geometry to write as GeoJSON.
func hasGeometry(table string) bool {
	return EventRows(table)
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
	case Lifetimes:
		return lifetimeColumns
	case Changes:
		return changeColumns
	case Counts:
		return countColumns(store.ByNone) // with --by event_type or severity, also that column: see Columns
	}
	return nil
}

// Columns returns the columns opts exports: Header's, with the group
// column of counts.
func Columns(opts Options) []Column {
	if opts.Table == Counts {
		return countColumns(opts.Series.By)
	}
	return Header(opts.Table, opts.Format)
}

// checkOptions refuses what a table cannot be written as.
func checkOptions(opts Options) error {
	if opts.Format == GeoJSON && !hasGeometry(opts.Table) {
		return fmt.Errorf("the %s table has no geometry to write as GeoJSON (use csv or jsonl)", opts.Table)
	}
	if opts.Table == Counts {
		return opts.Series.Check()
	}
	return nil
}
