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

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// The columns of events that writeEvents sets, in the order of
// eventRow; last_seen_at and closed_at are left NULL (the event is open).
var insertColumns = append(append([]string{"feed", "id"}, traffic.FieldNames()...),
	"first_seen_at", "current_version", "content_hash", "raw")

// eventRow appends to row the values of insertColumns for e.
func eventRow(row []any, feed string, e *traffic.Event, at time.Time, version int) []any {
	row = append(row, feed, e.ID)
	for _, f := range traffic.Fields {
		row = append(row, f.Value(e))
	}
	return append(row, at, version, e.ContentHash, e.Raw)
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
	return " ON CONFLICT (feed, id) DO UPDATE SET " + strings.Join(set, ", ")
}()

// copySpells starts a spell for each given event from its row in events,
// which writeEvents has written: each event's content crosses from Go to
// the database once.
var copySpells = "INSERT INTO event_versions (feed, event_id, version, first_run_id, valid_from, content_hash, " +
	fieldColumns + ", raw) SELECT feed, id, current_version, %s, %s, content_hash, " + fieldColumns + ", raw FROM events WHERE "

// writeEvents upserts the new, changed and returning events into events;
// startSpells then starts their spells.
func (s *Store) writeEvents(tx *gorm.DB, conn *sql.Conn, feed string, at time.Time, write []traffic.Event, versions []int) error {
	if len(write) == 0 {
		return nil
	}
	ctx := tx.Statement.Context
	if s.dialect == Postgres {
		return s.writeEventsPostgres(ctx, tx.Statement.ConnPool, conn, feed, at, write, versions)
	}
	return s.writeEventsSQLite(ctx, tx.Statement.ConnPool, feed, at, write, versions)
}

// startSpells starts a spell in event_versions for each id, from its row in
// events as writeEvents left it, in one statement per bind-parameter limit
// on SQLite and one statement on PostgreSQL.
func (s *Store) startSpells(tx *gorm.DB, feed string, runID int64, at time.Time, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, db := tx.Statement.Context, tx.Statement.ConnPool
	if s.dialect == Postgres {
		// A join with the unnested ids, not "id = ANY($3)", which would
		// compare every row with every id.
		_, err := db.ExecContext(ctx, fmt.Sprintf(copySpells, "$1", "$2")+"feed = $3 AND id IN (SELECT unnest($4::text[]))", runID, at, feed, ids)
		return s.dbError("write event versions", err)
	}
	err := inBatches(ids, s.maxParams()-3, func(batch []string) error {
		args := make([]any, 0, len(batch)+3)
		args = append(args, runID, at, feed)
		for _, id := range batch {
			args = append(args, id)
		}
		query := fmt.Sprintf(copySpells, "?", "?") + "feed = ? AND id IN (?" + strings.Repeat(", ?", len(batch)-1) + ")"
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
func (s *Store) writeEventsPostgres(ctx context.Context, db gorm.ConnPool, conn *sql.Conn, feed string, at time.Time, write []traffic.Event, versions []int) error {
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
				return eventRow(row[:0], feed, &write[fresh[k]], at, 1), nil
			}))
			return err
		})
		if err != nil {
			return s.dbError("write events", err)
		}
	}
	if len(again) > 0 {
		if err := s.upsertEventsPostgres(ctx, db, feed, at, write, versions, again); err != nil {
			return s.dbError("write events", err)
		}
	}
	return nil
}

// upsertEventsPostgres writes the events at positions pos from one array
// per column.
func (s *Store) upsertEventsPostgres(ctx context.Context, db gorm.ConnPool, feed string, at time.Time, write []traffic.Event, versions []int, pos []int) error {
	n := len(pos)
	// One array per column of insertColumns, typed for unnest.
	arrays := make([]any, 0, len(insertColumns))
	ids, hashes, raws, version := make([]string, n), make([]string, n), make([]string, n), make([]int, n)
	for i, p := range pos {
		ids[i], hashes[i], raws[i], version[i] = write[p].ID, write[p].ContentHash, write[p].Raw, versions[p]
	}
	var selects, unnests []string
	arg := func(v any, cast, name string) {
		arrays = append(arrays, v)
		unnests = append(unnests, fmt.Sprintf("$%d::%s[]", len(arrays), cast))
		selects = append(selects, name)
	}
	arg(ids, "text", "id")
	for _, f := range traffic.Fields {
		switch f.Kind {
		case traffic.Float:
			col := make([]*float64, n)
			for i, p := range pos {
				col[i] = *f.Ref(&write[p]).(**float64)
			}
			arg(col, "float8", f.Name)
		case traffic.Time:
			col := make([]*time.Time, n)
			for i, p := range pos {
				col[i] = *f.Ref(&write[p]).(**time.Time)
			}
			arg(col, "timestamptz", f.Name)
		default:
			col := make([]string, n)
			for i, p := range pos {
				col[i] = *f.Ref(&write[p]).(*string)
			}
			arg(col, "text", f.Name)
		}
	}
	arg(version, "int", "current_version")
	arg(hashes, "text", "content_hash")
	arg(raws, "text", "raw")
	arrays = append(arrays, feed, at)
	insert := "INSERT INTO events (" + strings.Join(insertColumns, ", ") + ")\nSELECT " +
		fmt.Sprintf("$%d, ", len(arrays)-1) + strings.Join(selects[:len(selects)-3], ", ") +
		fmt.Sprintf(", $%d, current_version, content_hash, raw::jsonb", len(arrays)) +
		"\nFROM unnest(" + strings.Join(unnests, ", ") + ") AS u(" + strings.Join(selects, ", ") + ")" + upsertEvents
	_, err := db.ExecContext(ctx, insert, arrays...)
	return err
}

// writeEventsSQLite inserts rows in statements of as many rows as the
// bind-parameter limit allows. (Preparing each size once per run saved 6 %
// of the CPU of a 10,000-event first fetch and nothing elsewhere, under the
// 10 % a fast path must buy: issue 13, docs/benchmarks.md.)
func (s *Store) writeEventsSQLite(ctx context.Context, db gorm.ConnPool, feed string, at time.Time, write []traffic.Event, versions []int) error {
	cols := len(insertColumns)
	perStmt := s.maxParams() / cols
	args := make([]any, 0, min(len(write), perStmt)*cols)
	for start := 0; start < len(write); start += perStmt {
		batch := write[start:min(start+perStmt, len(write))]
		args = args[:0]
		for i := range batch {
			args = eventRow(args, feed, &batch[i], at, versions[start+i])
		}
		if _, err := db.ExecContext(ctx, insertEventsSQL(len(batch), cols), args...); err != nil {
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
