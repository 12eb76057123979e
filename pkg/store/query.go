package store

import (
	"context"
	"database/sql"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// BBox is a bounding box in degrees.
type BBox struct{ MinLon, MinLat, MaxLon, MaxLat float64 }

// Filter limits what the streaming queries return. Zero values do not limit.
type Filter struct {
	Since, Until time.Time // [Since, Until): runs and snapshots by start, versions and events by overlap
	EventTypes   []string
	Severities   []string
	Statuses     []string
	BBox         *BBox
	WithRaw      bool // also read raw (JSON exports need it, CSV does not)
}

// where builds a WHERE clause from the content filters, for a table whose
// event columns are unqualified.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(column string, values []string) {
	if len(values) == 0 {
		return
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(values)), ",")
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	w.add(column+" IN ("+marks+")", args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (f Filter) content() *where {
	w := &where{}
	w.in("event_type", f.EventTypes)
	w.in("severity", f.Severities)
	w.in("status", f.Statuses)
	if b := f.BBox; b != nil {
		w.add("lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?", b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	return w
}

const fieldColumns = "headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas, created, updated, geometry_type, geometry"

// fieldScanner scans EventFields without allocating per row.
type fieldScanner struct {
	lat, lon         sql.NullFloat64
	created, updated sql.NullTime
}

func (fs *fieldScanner) dest(f *EventFields) []any {
	return []any{&f.Headline, &f.EventType, &f.Severity, &fs.lat, &fs.lon, &f.Status, &f.EventSubtypes,
		&f.Description, &f.Roads, &f.Areas, &fs.created, &fs.updated, &f.GeometryType, &f.Geometry}
}

func (fs *fieldScanner) finish(f *EventFields) {
	f.Lat, f.Lon = nullFloat(fs.lat), nullFloat(fs.lon)
	f.Created, f.Updated = nullTime(fs.created), nullTime(fs.updated)
}

// nullFloat and nullTime allocate anew for every row, so that a shallow
// copy of a streamed row is safe to keep.
func nullFloat(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	return &n.Float64
}

func nullTime(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

func rawColumn(with bool) string {
	if with {
		return "raw"
	}
	return "''"
}

// spanFilter is f's content filter and, with Since/Until, the rows whose
// span [start, end] overlaps [Since, Until). end is NULL while the row is
// open, meaning the latest successful run, which is returned too.
func (s *Store) spanFilter(ctx context.Context, f Filter, start, end string) (*where, RunStart, error) {
	latest, _, err := lastSucceeded(s.db.WithContext(ctx))
	if err != nil {
		return nil, latest, s.dbError("read the ledger", err)
	}
	w := f.content()
	if !f.Since.IsZero() {
		w.add("COALESCE("+end+", ?) >= ?", latest.Started, dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		w.add(start+" < ?", dbTime(f.Until))
	}
	return w, latest, nil
}

// Events streams the events table ordered by id, with last_seen_at filled
// in for open events. The row passed to fn is reused: keep a copy (a
// shallow copy is enough).
func (s *Store) Events(ctx context.Context, f Filter, fn func(*Event) error) error {
	w, latest, err := s.spanFilter(ctx, f, "first_seen_at", "last_seen_at")
	if err != nil {
		return err
	}
	q := "SELECT id, " + fieldColumns + ", first_seen_at, last_seen_at, closed_at, current_version, content_hash, " +
		rawColumn(f.WithRaw) + " FROM events" + w.String() + " ORDER BY id"
	rows, err := s.db.WithContext(ctx).Raw(q, w.args...).Rows()
	if err != nil {
		return s.dbError("read events", err)
	}
	defer rows.Close()
	var e Event
	var fs fieldScanner
	var lastSeen, closed sql.NullTime
	dest := append([]any{&e.ID}, fs.dest(&e.EventFields)...)
	dest = append(dest, &e.FirstSeenAt, &lastSeen, &closed, &e.CurrentVersion, &e.ContentHash, &e.Raw)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return s.dbError("read events", err)
		}
		fs.finish(&e.EventFields)
		e.FirstSeenAt = e.FirstSeenAt.UTC()
		e.LastSeenAt, e.ClosedAt = orTime(nullTime(lastSeen), latest.Started), nullTime(closed)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return s.dbError("read events", rows.Err())
}

const versionColumns = "event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, " + fieldColumns

// versionScanner reads event_versions rows into a reused EventVersion,
// ending open spells at the latest successful run.
type versionScanner struct {
	v       EventVersion
	fs      fieldScanner
	lastRun sql.NullInt64
	validTo sql.NullTime
	latest  RunStart
	dest    []any
}

func newVersionScanner(latest RunStart) *versionScanner {
	vs := &versionScanner{latest: latest}
	v := &vs.v
	vs.dest = append([]any{&v.EventID, &v.Version, &v.FirstRunID, &vs.lastRun, &v.ValidFrom, &vs.validTo, &v.ContentHash},
		vs.fs.dest(&v.EventFields)...)
	vs.dest = append(vs.dest, &v.Raw)
	return vs
}

func (vs *versionScanner) scan(rows *sql.Rows) (*EventVersion, error) {
	if err := rows.Scan(vs.dest...); err != nil {
		return nil, err
	}
	vs.fs.finish(&vs.v.EventFields)
	lastRun := vs.latest.ID
	if vs.lastRun.Valid {
		lastRun = vs.lastRun.Int64
	}
	vs.v.LastRunID = &lastRun
	vs.v.ValidFrom = vs.v.ValidFrom.UTC()
	vs.v.ValidTo = orTime(nullTime(vs.validTo), vs.latest.Started)
	return &vs.v, nil
}

// orTime is t, or else a copy of fallback.
func orTime(t *time.Time, fallback time.Time) *time.Time {
	if t != nil {
		return t
	}
	return &fallback
}

// Versions streams event_versions ordered by event id and version. With
// Since/Until it keeps the spells that overlap [Since, Until).
func (s *Store) Versions(ctx context.Context, f Filter, fn func(*EventVersion) error) error {
	w, latest, err := s.spanFilter(ctx, f, "valid_from", "valid_to")
	if err != nil {
		return err
	}
	q := "SELECT " + versionColumns + ", " + rawColumn(f.WithRaw) + " FROM event_versions" + w.String() + " ORDER BY event_id, version"
	rows, err := s.db.WithContext(ctx).Raw(q, w.args...).Rows()
	if err != nil {
		return s.dbError("read event versions", err)
	}
	defer rows.Close()
	vs := newVersionScanner(latest)
	for rows.Next() {
		v, err := vs.scan(rows)
		if err != nil {
			return s.dbError("read event versions", err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return s.dbError("read event versions", rows.Err())
}

// runsQuery selects the ledger in id order, limited by start time.
func (s *Store) runsQuery(ctx context.Context, f Filter) *gorm.DB {
	q := s.db.WithContext(ctx).Model(&FetchRun{}).Order("id")
	if !f.Since.IsZero() {
		q = q.Where("started_at >= ?", dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("started_at < ?", dbTime(f.Until))
	}
	return q
}

// Runs streams the ledger ordered by id, limited by start time.
func (s *Store) Runs(ctx context.Context, f Filter, fn func(*FetchRun) error) error {
	rows, err := s.runsQuery(ctx, f).Rows()
	if err != nil {
		return s.dbError("read the ledger", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r FetchRun
		if err := s.db.ScanRows(rows, &r); err != nil {
			return s.dbError("read the ledger", err)
		}
		r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), r.FinishedAt.UTC()
		if err := fn(&r); err != nil {
			return err
		}
	}
	return s.dbError("read the ledger", rows.Err())
}

// SnapshotRow is one event as it was in one successful run.
type SnapshotRow struct {
	RunID      int64
	ObservedAt time.Time // the run's started_at
	*EventVersion
}

// Snapshots rebuilds every successful run's snapshot from the ledger and
// the spells, ordered by run and then event id, and streams it.
//
// A SQL range join (runs JOIN versions ON first_run_id <= run AND
// last_run_id >= run) would make the database sort the whole output, and an
// index serves only one side of a range. Instead this sweeps: the runs are
// few and small, so they are read first; then one cursor reads the spells in
// the order they begin (index event_versions_first_run), and a run's rows
// are the spells begun by then that have not ended. Time is linear in
// spells + rows out; memory holds one snapshot's spells.
func (s *Store) Snapshots(ctx context.Context, f Filter, fn func(*SnapshotRow) error) error {
	runs, err := s.successfulRuns(ctx, f)
	if err != nil || len(runs) == 0 {
		return err
	}
	w := f.content()
	w.add("(last_run_id IS NULL OR last_run_id >= ?) AND first_run_id <= ?", runs[0].ID, runs[len(runs)-1].ID)
	q := "SELECT " + versionColumns + ", " + rawColumn(f.WithRaw) + " FROM event_versions" + w.String() + " ORDER BY first_run_id, event_id"
	rows, err := s.db.WithContext(ctx).Raw(q, w.args...).Rows()
	if err != nil {
		return s.dbError("read event versions", err)
	}
	defer rows.Close()
	vs := newVersionScanner(runs[len(runs)-1])
	var pending *EventVersion // read from the cursor, not yet begun
	more := true
	next := func() error {
		if !more {
			pending = nil
			return nil
		}
		if !rows.Next() {
			more, pending = false, nil
			return rows.Err()
		}
		v, err := vs.scan(rows)
		if err != nil {
			return err
		}
		c := *v // the scanner reuses its row
		pending = &c
		return nil
	}
	if err := next(); err != nil {
		return s.dbError("read event versions", err)
	}
	var active []*EventVersion // sorted by event id
	row := SnapshotRow{}
	for _, r := range runs {
		added := false
		for pending != nil && pending.FirstRunID <= r.ID {
			active = append(active, pending)
			added = true
			if err := next(); err != nil {
				return s.dbError("read event versions", err)
			}
		}
		if added {
			sort.SliceStable(active, func(i, j int) bool { return active[i].EventID < active[j].EventID })
		}
		keep := active[:0]
		for _, v := range active {
			if *v.LastRunID < r.ID {
				continue // the spell ended before this run
			}
			keep = append(keep, v)
			row.RunID, row.ObservedAt, row.EventVersion = r.ID, r.Started, v
			if err := fn(&row); err != nil {
				return err
			}
		}
		clear(active[len(keep):])
		active = keep
	}
	return nil
}

func (s *Store) successfulRuns(ctx context.Context, f Filter) ([]RunStart, error) {
	rows, err := s.runsQuery(ctx, f).Select("id, started_at").Where("status = ?", RunSucceeded).Rows()
	if err != nil {
		return nil, s.dbError("read the ledger", err)
	}
	defer rows.Close()
	var runs []RunStart
	for rows.Next() {
		var r RunStart
		if err := rows.Scan(&r.ID, &r.Started); err != nil {
			return nil, s.dbError("read the ledger", err)
		}
		r.Started = r.Started.UTC()
		runs = append(runs, r)
	}
	return runs, s.dbError("read the ledger", rows.Err())
}
