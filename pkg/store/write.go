package store

import (
	"database/sql"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// The SQL of a run's writes. A page's spells are written with their
// events' rows (beginSpells); spells end when their event changes or
// closes (endSpells, closeEvents); undoSpell takes back what the run wrote
// for an id it meets again with other content.

// spellColumns are the columns of event_versions a new spell sets, in the
// order of spellRow; last_run_id and valid_to stay NULL (the spell is open).
var spellColumns = append(append([]string{"feed", "event_id", "version", "first_run_id", "valid_from", "content_hash"},
	traffic.FieldNames()...), "raw")

// spellRow appends to row the values of spellColumns for sp.
func spellRow(row []any, feed string, runID int64, at time.Time, sp *spell) []any {
	e := sp.event
	row = append(row, feed, e.ID, sp.version, runID, at, e.ContentHash)
	for _, f := range traffic.Fields {
		row = append(row, f.Value(e))
	}
	return append(row, e.Raw)
}

// upsertEvent is how a spell's event is written: a new event gets its row;
// a changed or returning one points at its new spell and is open again
// (its first_seen_at stays).
const upsertEvent = " ON CONFLICT (feed, id) DO UPDATE SET current_version = excluded.current_version, last_seen_at = NULL, closed_at = NULL"

// beginSpells writes the spells a page begins, each with its event's row
// in events (first, for the foreign key).
func (s *Store) beginSpells(tx *gorm.DB, conn *sql.Conn, feed string, runID int64, at time.Time, spells []spell) error {
	if len(spells) == 0 {
		return nil
	}
	ctx, db := tx.Statement.Context, tx.Statement.ConnPool
	if s.dialect == Postgres {
		ids, versions := make([]string, len(spells)), make([]int, len(spells))
		for i, sp := range spells {
			ids[i], versions[i] = sp.event.ID, sp.version
		}
		_, err := db.ExecContext(ctx, "INSERT INTO events (feed, id, first_seen_at, current_version) SELECT $1, id, $2, version FROM unnest($3::text[], $4::int[]) AS u(id, version)"+upsertEvent,
			feed, at, ids, versions)
		if err != nil {
			return s.dbError("write events", err)
		}
		// COPY, the bulk-load protocol: no statement with thousands of
		// parameters to parse and plan.
		err = conn.Raw(func(driverConn any) error {
			row := make([]any, 0, len(spellColumns))
			k := -1
			_, err := driverConn.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{versionsTable}, spellColumns, pgx.CopyFromFunc(func() ([]any, error) {
				if k++; k == len(spells) {
					return nil, nil
				}
				return spellRow(row[:0], feed, runID, at, &spells[k]), nil
			}))
			return err
		})
		return s.dbError("write event versions", err)
	}
	args := make([]any, 0, s.maxParams())
	perStmt := s.maxParams() / 4
	for start := 0; start < len(spells); start += perStmt {
		batch := spells[start:min(start+perStmt, len(spells))]
		args = args[:0]
		for _, sp := range batch {
			args = append(args, feed, sp.event.ID, at, sp.version)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO events (feed, id, first_seen_at, current_version) VALUES "+rows(len(batch), 4)+upsertEvent, args...); err != nil {
			return s.dbError("write events", err)
		}
	}
	perStmt = s.maxParams() / len(spellColumns)
	insert := "INSERT INTO event_versions (" + strings.Join(spellColumns, ", ") + ") VALUES "
	for start := 0; start < len(spells); start += perStmt {
		batch := spells[start:min(start+perStmt, len(spells))]
		args = args[:0]
		for i := range batch {
			args = spellRow(args, feed, runID, at, &batch[i])
		}
		if _, err := db.ExecContext(ctx, insert+rows(len(batch), len(spellColumns)), args...); err != nil {
			return s.dbError("write event versions", err)
		}
	}
	return nil
}

// rows is the VALUES list of n rows of cols parameters each.
func rows(n, cols int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return row + strings.Repeat(", "+row, n-1)
}

// endSpells ends the given open spells at the previous successful run.
func (s *Store) endSpells(tx *gorm.DB, feed string, prev RunStart, spells []spellKey) error {
	if len(spells) == 0 {
		return nil
	}
	ctx, db := tx.Statement.Context, tx.Statement.ConnPool
	if s.dialect == Postgres {
		// Each spell by its whole primary key, joined with the unnested
		// keys: matched on the open spells instead, the planner scanned
		// them all (docs/benchmarks.md).
		versions := make([]int, len(spells))
		for i, sp := range spells {
			versions[i] = sp.version
		}
		_, err := db.ExecContext(ctx, "UPDATE event_versions v SET last_run_id = $1, valid_to = $2 FROM unnest($4::text[], $5::int[]) AS u(id, version) WHERE v.feed = $3 AND v.event_id = u.id AND v.version = u.version",
			prev.ID, prev.Started, feed, ids(spells), versions)
		return s.dbError("end spells", err)
	}
	err := inBatches(ids(spells), s.maxParams()-3, func(batch []string) error {
		_, err := db.ExecContext(ctx, "UPDATE event_versions SET last_run_id = ?, valid_to = ? WHERE feed = ? AND last_run_id IS NULL AND event_id IN "+rows(1, len(batch)),
			append([]any{prev.ID, prev.Started, feed}, anys(batch)...)...)
		return err
	})
	return s.dbError("end spells", err)
}

// closeEvents marks the events of ids closed by this run; they were last
// seen by the previous one.
func (s *Store) closeEvents(tx *gorm.DB, feed string, at time.Time, prev RunStart, ids []string) error {
	ctx, db := tx.Statement.Context, tx.Statement.ConnPool
	if s.dialect == Postgres {
		if len(ids) == 0 {
			return nil
		}
		_, err := db.ExecContext(ctx, "UPDATE events e SET closed_at = $1, last_seen_at = $2 FROM unnest($4::text[]) AS u(id) WHERE e.feed = $3 AND e.id = u.id",
			at, prev.Started, feed, ids)
		return s.dbError("close absent events", err)
	}
	err := inBatches(ids, s.maxParams()-3, func(batch []string) error {
		_, err := db.ExecContext(ctx, "UPDATE events SET closed_at = ?, last_seen_at = ? WHERE feed = ? AND id IN "+rows(1, len(batch)),
			append([]any{at, prev.Started, feed}, anys(batch)...)...)
		return err
	})
	return s.dbError("close absent events", err)
}

// undoSpell takes back what the run wrote for an id it met before: the
// spell it began; a changed event's spell before it is open and current
// again. Rare (a feed whose pages shifted
// while being read), so done one id at a time.
func (s *Store) undoSpell(tx *gorm.DB, feed string, u undo) error {
	var err error
	exec := func(q string, args ...any) {
		if err == nil {
			err = tx.Exec(q, args...).Error
		}
	}
	switch u.was {
	case isNew: // still new when met again: beginSpells rewrites its row
		exec("DELETE FROM event_versions WHERE feed = ? AND event_id = ?", feed, u.id)
	case isChanged:
		exec("DELETE FROM event_versions WHERE feed = ? AND event_id = ? AND version = ?", feed, u.id, u.version+1)
		exec("UPDATE event_versions SET last_run_id = NULL, valid_to = NULL WHERE feed = ? AND event_id = ? AND version = ?", feed, u.id, u.version)
		exec("UPDATE events SET current_version = ? WHERE feed = ? AND id = ?", u.version, feed, u.id)
	case isReturning:
		// Met again, it returns again: beginSpells rewrites its row.
		exec("DELETE FROM event_versions WHERE feed = ? AND event_id = ? AND version = ?", feed, u.id, u.version+1)
	}
	return s.dbError("redo a repeated event", err)
}

func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
