package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/open511"
)

// The columns of events that writeEvents sets; last_seen_at and closed_at
// are left NULL (the event is open).
var insertColumns = []string{
	"id", "headline", "event_type", "severity", "lat", "lon", "status", "event_subtypes",
	"description", "roads", "areas", "created", "updated", "geometry_type", "geometry",
	"first_seen_at", "current_version", "content_hash", "raw",
}

// upsertEvents is the ON CONFLICT clause of the events insert: a changed
// or returning event takes the new content and is open again; its
// first_seen_at stays.
var upsertEvents = func() string {
	var set []string
	for _, c := range strings.Split(fieldColumns, ", ") {
		set = append(set, c+" = excluded."+c)
	}
	set = append(set, "last_seen_at = NULL", "closed_at = NULL", "current_version = excluded.current_version",
		"content_hash = excluded.content_hash", "raw = excluded.raw")
	return " ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ", ")
}()

// copySpells starts a spell for each given event from its row in events,
// which writeEvents has written: each event's content crosses from Go to
// the database once.
const copySpells = "INSERT INTO event_versions (event_id, version, first_run_id, valid_from, content_hash, " +
	fieldColumns + ", raw) SELECT id, current_version, %s, %s, content_hash, " + fieldColumns + ", raw FROM events WHERE "

// writeEvents upserts the new, changed and returning events into events;
// startSpells then starts their spells.
func (s *Store) writeEvents(tx *gorm.DB, conn *sql.Conn, stmts map[int]*sql.Stmt, at time.Time, write []open511.Event, versions []int) error {
	if len(write) == 0 {
		return nil
	}
	ctx := tx.Statement.Context
	if s.dialect == Postgres {
		return s.writeEventsPostgres(ctx, tx.Statement.ConnPool, conn, at, write, versions)
	}
	return s.writeEventsSQLite(ctx, tx.Statement.ConnPool, stmts, at, write, versions)
}

// startSpells starts a spell in event_versions for each id, from its row in
// events as writeEvents left it, in one statement per bind-parameter limit
// on SQLite and one statement on PostgreSQL.
func (s *Store) startSpells(tx *gorm.DB, runID int64, at time.Time, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, db := tx.Statement.Context, tx.Statement.ConnPool
	if s.dialect == Postgres {
		// A join with the unnested ids, not "id = ANY($3)", which would
		// compare every row with every id.
		_, err := db.ExecContext(ctx, fmt.Sprintf(copySpells, "$1", "$2")+"id IN (SELECT unnest($3::text[]))", runID, at, ids)
		return s.dbError("write event versions", err)
	}
	err := inBatches(ids, s.maxParams()-2, func(batch []string) error {
		args := make([]any, 0, len(batch)+2)
		args = append(args, runID, at)
		for _, id := range batch {
			args = append(args, id)
		}
		query := fmt.Sprintf(copySpells, "?", "?") + "id IN (?" + strings.Repeat(", ?", len(batch)-1) + ")"
		_, err := db.ExecContext(ctx, query, args...)
		return err
	})
	return s.dbError("write event versions", err)
}

// writeEventsPostgres loads events never stored before with COPY, the
// bulk-load protocol (no statement with thousands of parameters to parse
// and plan), and upserts the others (changed or back after closing,
// usually a few) from one array per column. One or two statements,
// whatever the number of events.
func (s *Store) writeEventsPostgres(ctx context.Context, db gorm.ConnPool, conn *sql.Conn, at time.Time, write []open511.Event, versions []int) error {
	var fresh, again []int // positions in write
	for i, v := range versions {
		if v == 1 {
			fresh = append(fresh, i)
		} else {
			again = append(again, i)
		}
	}
	if len(fresh) > 0 {
		err := conn.Raw(func(driverConn any) error {
			pg := driverConn.(*stdlib.Conn).Conn()
			row := make([]any, len(insertColumns))
			k := -1
			_, err := pg.CopyFrom(ctx, pgx.Identifier{"events"}, insertColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if k++; k == len(fresh) {
					return nil, nil
				}
				e := write[fresh[k]]
				row = append(row[:0], e.ID, e.Headline, e.EventType, e.Severity, e.Lat, e.Lon, e.Status,
					e.EventSubtypes, e.Description, e.Roads, e.Areas, e.Created, e.Updated, e.GeometryType,
					e.Geometry, at, 1, e.ContentHash, e.Raw)
				return row, nil
			}))
			return err
		})
		if err != nil {
			return s.dbError("write events", err)
		}
	}
	if len(again) > 0 {
		if err := s.upsertEventsPostgres(ctx, db, at, write, versions, again); err != nil {
			return s.dbError("write events", err)
		}
	}
	return nil
}

// upsertEventsPostgres writes the events at positions pos from one array
// per column.
func (s *Store) upsertEventsPostgres(ctx context.Context, db gorm.ConnPool, at time.Time, write []open511.Event, versions []int, pos []int) error {
	n := len(pos)
	ids, hashes, raws, geometry := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	text := make([][]string, 9) // headline, event_type, severity, status, event_subtypes, description, roads, areas, geometry_type
	for j := range text {
		text[j] = make([]string, n)
	}
	lat, lon := make([]*float64, n), make([]*float64, n)
	created, updated := make([]*time.Time, n), make([]*time.Time, n)
	version := make([]int, n)
	for i, p := range pos {
		e := write[p]
		ids[i], hashes[i], raws[i], geometry[i], version[i] = e.ID, e.ContentHash, e.Raw, e.Geometry, versions[p]
		for j, v := range []string{e.Headline, e.EventType, e.Severity, e.Status, e.EventSubtypes, e.Description, e.Roads, e.Areas, e.GeometryType} {
			text[j][i] = v
		}
		lat[i], lon[i], created[i], updated[i] = e.Lat, e.Lon, e.Created, e.Updated
	}
	insert := `INSERT INTO events (` + strings.Join(insertColumns, ", ") + `)
SELECT id, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas,
	created, updated, geometry_type, geometry, $18, current_version, content_hash, raw::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::text[], $15::text[],
	$16::int[], $17::text[], $19::text[])
	AS u(id, headline, event_type, severity, lat, lon, status, event_subtypes, description, roads, areas,
	created, updated, geometry_type, geometry, current_version, content_hash, raw)` + upsertEvents
	_, err := db.ExecContext(ctx, insert, ids, text[0], text[1], text[2], lat, lon, text[3], text[4],
		text[5], text[6], text[7], created, updated, text[8], geometry, version, hashes, at, raws)
	return err
}

// writeEventsSQLite inserts rows in statements of as many rows as the
// bind-parameter limit allows. A statement for a given number of rows is
// prepared once per run (pages are usually all the same size): parsing a
// statement of thousands of parameters costs about as much as running it.
func (s *Store) writeEventsSQLite(ctx context.Context, db gorm.ConnPool, stmts map[int]*sql.Stmt, at time.Time, write []open511.Event, versions []int) error {
	cols := len(insertColumns)
	perStmt := s.maxParams() / cols
	args := make([]any, 0, min(len(write), perStmt)*cols)
	for start := 0; start < len(write); start += perStmt {
		batch := write[start:min(start+perStmt, len(write))]
		args = args[:0]
		for i, e := range batch {
			args = append(args, e.ID, e.Headline, e.EventType, e.Severity, floatArg(e.Lat), floatArg(e.Lon),
				e.Status, e.EventSubtypes, e.Description, e.Roads, e.Areas, timeArg(e.Created), timeArg(e.Updated),
				e.GeometryType, e.Geometry, at, versions[start+i], e.ContentHash, e.Raw)
		}
		stmt := stmts[len(batch)]
		if stmt == nil {
			var err error
			// Prepared in the run's transaction, which closes it.
			if stmt, err = db.PrepareContext(ctx, insertEventsSQL(len(batch), cols)); err != nil {
				return s.dbError("write events", err)
			}
			stmts[len(batch)] = stmt
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return s.dbError("write events", err)
		}
	}
	return nil
}

func insertEventsSQL(rows, cols int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return "INSERT INTO events (" + strings.Join(insertColumns, ", ") + ") VALUES " +
		row + strings.Repeat(", "+row, rows-1) + upsertEvents
}

func floatArg(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}
