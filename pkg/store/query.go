package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// BBox is a bounding box in degrees.
type BBox struct{ MinLon, MinLat, MaxLon, MaxLat float64 }

// Filter limits what the streaming queries return. Zero values do not limit.
type Filter struct {
	Since, Until time.Time // [Since, Until): runs and snapshots by start, versions and events by overlap
	Feeds        []string  // only these feeds
	IDs          []string  // only these event ids
	EventTypes   []string
	Categories   []string // traffic.Categories
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

// content is f's filter of events as SQL, for a table whose event id
// column is named id.
func (f Filter) content(id string) *where {
	w := &where{}
	w.in("feed", f.Feeds)
	w.in(id, f.IDs)
	w.in("event_type", f.EventTypes)
	w.in("category", f.Categories)
	w.in("severity", f.Severities)
	w.in("status", f.Statuses)
	if b := f.BBox; b != nil {
		w.add("lon >= ? AND lon <= ? AND lat >= ? AND lat <= ?", b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	return w
}

// matches is the content filter (all but Feeds) in Go, for an event read
// without it: the same tests as content's SQL, where a NULL position is
// in no box.
func (f Filter) matches(e *traffic.Event) bool {
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, e.ID) ||
		len(f.EventTypes) > 0 && !slices.Contains(f.EventTypes, e.EventType) ||
		len(f.Categories) > 0 && !slices.Contains(f.Categories, e.Category) ||
		len(f.Severities) > 0 && !slices.Contains(f.Severities, e.Severity) ||
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, e.Status) {
		return false
	}
	if b := f.BBox; b != nil {
		return e.Lon != nil && e.Lat != nil && *e.Lon >= b.MinLon && *e.Lon <= b.MaxLon && *e.Lat >= b.MinLat && *e.Lat <= b.MaxLat
	}
	return true
}

// fieldColumns are the event's content columns (traffic.Fields), as SQL.
var fieldColumns = strings.Join(traffic.FieldNames(), ", ")

// fieldScanner scans an event's content columns into a traffic.Event
// without allocating per row for text.
type fieldScanner struct {
	floats []sql.NullFloat64
	times  []sql.NullTime
	dest   []any
}

func newFieldScanner(e *traffic.Event) *fieldScanner {
	fs := &fieldScanner{}
	for _, f := range traffic.Fields {
		switch f.Kind {
		case traffic.Float:
			fs.floats = append(fs.floats, sql.NullFloat64{})
		case traffic.Time:
			fs.times = append(fs.times, sql.NullTime{})
		}
	}
	nf, nt := 0, 0
	for _, f := range traffic.Fields {
		switch f.Kind {
		case traffic.Float:
			fs.dest = append(fs.dest, &fs.floats[nf])
			nf++
		case traffic.Time:
			fs.dest = append(fs.dest, &fs.times[nt])
			nt++
		default:
			fs.dest = append(fs.dest, f.Ref(e))
		}
	}
	return fs
}

// finish sets e's Float and Time fields from what was scanned.
func (fs *fieldScanner) finish(e *traffic.Event) {
	nf, nt := 0, 0
	for _, f := range traffic.Fields {
		switch f.Kind {
		case traffic.Float:
			*f.Ref(e).(**float64) = nullFloat(fs.floats[nf])
			nf++
		case traffic.Time:
			*f.Ref(e).(**time.Time) = nullTime(fs.times[nt])
			nt++
		}
	}
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

// rawCanon puts raw read from PostgreSQL back into canonical form. jsonb
// keeps the value, not the text: it gives the keys back shortest first and
// with a space after every colon and comma, so the same event would
// export differently from SQLite and PostgreSQL. (A number written with an
// exponent, 1e2, comes back from jsonb as 100; that cannot be undone, and
// no feed seen so far sends one.)
type rawCanon struct {
	p   fastjson.Parser
	sc  traffic.Scratch
	buf []byte
}

// rawCanon is what the scans of f's rows need: nil on SQLite, which keeps
// raw as the text stored, or when raw is not read.
func (s *Store) rawCanon(f Filter) *rawCanon {
	if s.dialect != Postgres || !f.WithRaw {
		return nil
	}
	return &rawCanon{}
}

// fix replaces *raw with its canonical form. A nil c leaves it as it is.
func (c *rawCanon) fix(raw *string) error {
	if c == nil {
		return nil
	}
	v, err := c.p.Parse(*raw)
	if err != nil {
		return fmt.Errorf("raw is not JSON: %w", err)
	}
	if c.buf, err = c.sc.AppendCanonical(c.buf[:0], v); err != nil {
		return err
	}
	*raw = string(c.buf)
	return nil
}

// latestRuns is each feed's latest successful run: where its open events
// and spells end.
type latestRuns map[string]RunStart

func (s *Store) latestRuns(db *gorm.DB) (latestRuns, error) {
	q := "SELECT feed, id, started_at FROM fetch_runs WHERE id IN (SELECT MAX(id) FROM fetch_runs WHERE status = ? GROUP BY feed)"
	args := []any{RunSucceeded}
	if s.indexed(db) { // a row per feed, not the whole ledger
		q, args = "SELECT r.feed, r.id, r.started_at FROM ledger_feeds f JOIN fetch_runs r ON r.id = f.last_success_id", nil
	}
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, s.dbError("read the ledger", err)
	}
	defer rows.Close()
	latest := latestRuns{}
	for rows.Next() {
		var feed string
		var r RunStart
		if err := rows.Scan(&feed, &r.ID, &r.Started); err != nil {
			return nil, s.dbError("read the ledger", err)
		}
		r.Feed, r.Started = feed, r.Started.UTC()
		latest[feed] = r
	}
	return latest, s.dbError("read the ledger", rows.Err())
}

// startedSQL is an SQL expression for the start of the latest successful
// run of the row's feed, with its arguments; param is how a time
// parameter is written (PostgreSQL needs its type spelled out).
func (l latestRuns) startedSQL(param string) (string, []any) {
	if len(l) == 0 {
		return "NULL", nil
	}
	expr := "CASE feed"
	var args []any
	for feed, r := range l {
		expr += " WHEN ? THEN " + param
		args = append(args, feed, r.Started)
	}
	return expr + " END", args
}

// spanFilter is f's content filter (id the id column) and, with
// Since/Until, the rows whose span [start, end] overlaps [Since, Until).
// end is NULL while the row is open, meaning its feed's latest successful
// run, which is returned too.
func (s *Store) spanFilter(db *gorm.DB, f Filter, id, start, end string) (*where, latestRuns, error) {
	latest, err := s.latestRuns(db)
	if err != nil {
		return nil, nil, err
	}
	w := f.content(id)
	if !f.Since.IsZero() {
		param := "?" // SQLite keeps times as text
		if s.dialect == Postgres {
			param = "CAST(? AS TIMESTAMPTZ)"
		}
		expr, args := latest.startedSQL(param)
		w.add("COALESCE("+end+", "+expr+") >= ?", append(args, DBTime(f.Since))...)
	}
	if !f.Until.IsZero() {
		w.add(start+" < ?", DBTime(f.Until))
	}
	return w, latest, nil
}

// currentEvents is events with each event's content, from its current
// spell, as a table the filters read with unqualified columns.
var currentEvents = "(SELECT e.feed, e.id, v." + strings.Join(traffic.FieldNames(), ", v.") +
	", e.first_seen_at, e.last_seen_at, e.closed_at, e.current_version, v.content_hash, v.raw" +
	" FROM events e JOIN event_versions v ON v.feed = e.feed AND v.event_id = e.id AND v.version = e.current_version) AS events"

// Events streams the events table ordered by feed and id, with
// last_seen_at filled in for open events. The row passed to fn is reused:
// keep a copy (a shallow copy is enough).
func (s *Store) Events(ctx context.Context, f Filter, fn func(*Event) error) error {
	return s.read(ctx, func(db *gorm.DB) error {
		w, latest, err := s.spanFilter(db, f, "id", "first_seen_at", "last_seen_at")
		if err != nil {
			return err
		}
		q := "SELECT feed, id, " + fieldColumns + ", first_seen_at, last_seen_at, closed_at, current_version, content_hash, " +
			rawColumn(f.WithRaw) + " FROM " + currentEvents + w.String() + " ORDER BY feed, id"
		rows, err := db.Raw(q, w.args...).Rows()
		if err != nil {
			return s.dbError("read events", err)
		}
		defer rows.Close()
		var e Event
		fs := newFieldScanner(&e.Event)
		canon := s.rawCanon(f)
		var lastSeen, closed sql.NullTime
		dest := append([]any{&e.Feed, &e.ID}, fs.dest...)
		dest = append(dest, &e.FirstSeenAt, &lastSeen, &closed, &e.CurrentVersion, &e.ContentHash, &e.Raw)
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return s.dbError("read events", err)
			}
			if err := canon.fix(&e.Raw); err != nil {
				return s.dbError("read events", err)
			}
			fs.finish(&e.Event)
			e.FirstSeenAt = e.FirstSeenAt.UTC()
			e.LastSeenAt, e.ClosedAt = orTime(nullTime(lastSeen), latest[e.Feed].Started), nullTime(closed)
			if err := fn(&e); err != nil {
				return err
			}
		}
		return s.dbError("read events", rows.Err())
	})
}

var versionColumns = "feed, event_id, version, first_run_id, last_run_id, valid_from, valid_to, content_hash, " + fieldColumns

// versionScanner reads event_versions rows into a reused EventVersion,
// ending open spells at their feed's latest successful run.
type versionScanner struct {
	v       EventVersion
	fs      *fieldScanner
	lastRun sql.NullInt64
	validTo sql.NullTime
	latest  latestRuns
	canon   *rawCanon
	dest    []any
}

func newVersionScanner(latest latestRuns, canon *rawCanon) *versionScanner {
	vs := &versionScanner{latest: latest, canon: canon}
	v := &vs.v
	vs.fs = newFieldScanner(&v.Event)
	vs.dest = append([]any{&v.Feed, &v.ID, &v.Version, &v.FirstRunID, &vs.lastRun, &v.ValidFrom, &vs.validTo, &v.ContentHash},
		vs.fs.dest...)
	vs.dest = append(vs.dest, &v.Raw)
	return vs
}

func (vs *versionScanner) scan(rows *sql.Rows) (*EventVersion, error) {
	if err := rows.Scan(vs.dest...); err != nil {
		return nil, err
	}
	if err := vs.canon.fix(&vs.v.Raw); err != nil {
		return nil, err
	}
	vs.fs.finish(&vs.v.Event)
	latest := vs.latest[vs.v.Feed]
	lastRun := latest.ID
	if vs.lastRun.Valid {
		lastRun = vs.lastRun.Int64
	}
	vs.v.LastRunID = &lastRun
	vs.v.ValidFrom = vs.v.ValidFrom.UTC()
	vs.v.ValidTo = orTime(nullTime(vs.validTo), latest.Started)
	return &vs.v, nil
}

// orTime is t, or else a copy of fallback.
func orTime(t *time.Time, fallback time.Time) *time.Time {
	if t != nil {
		return t
	}
	return &fallback
}

// read runs fn in one read transaction, so that everything it reads is one
// snapshot of the database, whatever runs commit meanwhile: repeatable
// read on PostgreSQL; on SQLite a deferred transaction, which reads one
// snapshot of the WAL (the DSN's _txlock=immediate would take the write
// lock, and make an export wait for fetches and fetches for it).
func (s *Store) read(ctx context.Context, fn func(db *gorm.DB) error) error {
	if s.dialect == Postgres {
		return s.db.WithContext(ctx).Transaction(fn, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return s.dbError("connect", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return s.dbError("begin a read", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	db := s.db.WithContext(ctx)
	db.Statement.ConnPool = conn
	return fn(db)
}

// Versions streams event_versions ordered by feed, event id and version.
// With Since/Until it keeps the spells that overlap [Since, Until).
func (s *Store) Versions(ctx context.Context, f Filter, fn func(*EventVersion) error) error {
	return s.read(ctx, func(db *gorm.DB) error {
		w, latest, err := s.spanFilter(db, f, "event_id", "valid_from", "valid_to")
		if err != nil {
			return err
		}
		q := "SELECT " + versionColumns + ", " + rawColumn(f.WithRaw) + " FROM event_versions" + w.String() + " ORDER BY feed, event_id, version"
		rows, err := db.Raw(q, w.args...).Rows()
		if err != nil {
			return s.dbError("read event versions", err)
		}
		defer rows.Close()
		vs := newVersionScanner(latest, s.rawCanon(f))
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
	})
}

// runsQuery selects the ledger in id order, limited by feed and start time.
func (s *Store) runsQuery(db *gorm.DB, f Filter) *gorm.DB {
	q := s.runs(db, f).Order("id")
	if len(f.Feeds) > 0 {
		q = q.Where("feed IN ?", f.Feeds)
	}
	if !f.Since.IsZero() {
		q = q.Where("started_at >= ?", DBTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where("started_at < ?", DBTime(f.Until))
	}
	return q
}

// Runs streams the ledger ordered by id, limited by feed and start time.
// One statement is one state of the database anyway; it goes through read
// like every export, so that it stays one if it ever reads more.
func (s *Store) Runs(ctx context.Context, f Filter, fn func(*FetchRun) error) error {
	return s.read(ctx, func(db *gorm.DB) error {
		rows, err := s.runsQuery(db, f).Rows()
		if err != nil {
			return s.dbError("read the ledger", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r FetchRun
			if err := db.ScanRows(rows, &r); err != nil {
				return s.dbError("read the ledger", err)
			}
			r.StartedAt, r.FinishedAt = r.StartedAt.UTC(), r.FinishedAt.UTC()
			if err := fn(&r); err != nil {
				return err
			}
		}
		return s.dbError("read the ledger", rows.Err())
	})
}

// SnapshotRow is one event as it was in one successful run.
type SnapshotRow struct {
	RunID      int64
	ObservedAt time.Time // the run's started_at
	*EventVersion
}

// Snapshots rebuilds every successful run's snapshot from the ledger and
// the spells, ordered by run and then event id, and streams it. Run ids are
// shared by all feeds; a run's rows are those of its feed.
//
// A SQL range join (runs JOIN versions ON first_run_id <= run AND
// last_run_id >= run) would make the database sort the whole output, and an
// index serves only one side of a range. Instead this sweeps: the runs are
// few and small, so they are read first; then one cursor reads the spells in
// the order they begin (index event_versions_first_run), and a run's rows
// are the spells of its feed begun by then that have not ended. Time is
// linear in spells + rows out; memory holds one snapshot's spells per feed.
func (s *Store) Snapshots(ctx context.Context, f Filter, fn func(*SnapshotRow) error) error {
	return s.read(ctx, func(db *gorm.DB) error {
		runs, err := s.successfulRuns(db, f)
		if err != nil || len(runs) == 0 {
			return err
		}
		latest, err := s.latestRuns(db)
		if err != nil {
			return err
		}
		return s.sweep(db, runs, latest, f, fn)
	})
}

// sweep streams the snapshots of runs (successful ones, in id order): the
// spells that f's content filter keeps, of each run's feed.
func (s *Store) sweep(db *gorm.DB, runs []RunStart, latest latestRuns, f Filter, fn func(*SnapshotRow) error) error {
	w := f.content("event_id")
	w.add("(last_run_id IS NULL OR last_run_id >= ?) AND first_run_id <= ?", runs[0].ID, runs[len(runs)-1].ID)
	q := "SELECT " + versionColumns + ", " + rawColumn(f.WithRaw) + " FROM event_versions" + w.String() + " ORDER BY first_run_id, feed, event_id"
	rows, err := db.Raw(q, w.args...).Rows()
	if err != nil {
		return s.dbError("read event versions", err)
	}
	defer rows.Close()
	vs := newVersionScanner(latest, s.rawCanon(f))
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
	active := map[string][]*EventVersion{} // by feed, each sorted by event id
	added := map[string]bool{}
	row := SnapshotRow{}
	for _, r := range runs {
		clear(added)
		for pending != nil && pending.FirstRunID <= r.ID {
			active[pending.Feed] = append(active[pending.Feed], pending)
			added[pending.Feed] = true
			if err := next(); err != nil {
				return s.dbError("read event versions", err)
			}
		}
		for feed := range added {
			sort.SliceStable(active[feed], func(i, j int) bool { return active[feed][i].ID < active[feed][j].ID })
		}
		spells := active[r.Feed]
		keep := spells[:0]
		for _, v := range spells {
			if *v.LastRunID < r.ID {
				continue // the spell ended before this run
			}
			keep = append(keep, v)
			row.RunID, row.ObservedAt, row.EventVersion = r.ID, r.Started, v
			if err := fn(&row); err != nil {
				return err
			}
		}
		clear(spells[len(keep):])
		active[r.Feed] = keep
	}
	return nil
}

// successfulRuns are the successful runs f selects, in id order.
func (s *Store) successfulRuns(db *gorm.DB, f Filter) ([]RunStart, error) {
	rows, err := s.runsQuery(db, f).Select("id, feed, started_at").Where("status = ?", RunSucceeded).Rows()
	if err != nil {
		return nil, s.dbError("read the ledger", err)
	}
	defer rows.Close()
	var runs []RunStart
	for rows.Next() {
		var r RunStart
		if err := rows.Scan(&r.ID, &r.Feed, &r.Started); err != nil {
			return nil, s.dbError("read the ledger", err)
		}
		r.Started = r.Started.UTC()
		runs = append(runs, r)
	}
	return runs, s.dbError("read the ledger", rows.Err())
}
