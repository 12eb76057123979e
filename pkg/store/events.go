package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// loadOpen reads the open events' ids, hashes and spell numbers from their
// open spells (an event is open while its current spell is): one query,
// through the covering index event_versions_open.
//
// size is how many there are expected to be (the last run's count): sizing
// the map for them spares rebuilding it as it grows.
func (s *Store) loadOpen(tx *gorm.DB, feed string, size int) (map[string]known, error) {
	state := make(map[string]known, size)
	rows, err := tx.Raw("SELECT event_id, content_hash, version FROM event_versions WHERE feed = ? AND last_run_id IS NULL", feed).Rows()
	if err != nil {
		return nil, s.dbError("read open events", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		k := known{open: true}
		if err := rows.Scan(&id, &k.hash, &k.version); err != nil {
			return nil, s.dbError("read open events", err)
		}
		state[id] = k
	}
	return state, s.dbError("read open events", rows.Err())
}

// addClosed adds to closed those of ids that exist as closed events, in
// batches: the number of statements grows with ids / batch size, never
// with ids. ids are neither open nor looked up before.
func (s *Store) addClosed(tx *gorm.DB, feed string, closed map[string]known, ids []string) error {
	err := inBatches(ids, s.maxParams()-1, func(ids []string) error {
		var found []struct {
			ID             string
			CurrentVersion int
		}
		if s.dialect == Postgres {
			// A join with the unnested ids (as endSpells does): with
			// "id IN (…)" the planner, which knows nothing yet of a table
			// filled in this run, chose a scan comparing every row with
			// every id (docs/benchmarks.md).
			rows, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context,
				"SELECT e.id, e.current_version FROM unnest($1::text[]) AS u(id) JOIN events e ON e.feed = $2 AND e.id = u.id", ids, feed)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var version int
				if err := rows.Scan(&id, &version); err != nil {
					return err
				}
				closed[id] = known{version: version}
			}
			return rows.Err()
		}
		if err := tx.Table(eventsTable).Select("id, current_version").Where("feed = ? AND id IN ?", feed, ids).Find(&found).Error; err != nil {
			return err
		}
		for _, f := range found {
			closed[f.ID] = known{version: f.CurrentVersion}
		}
		return nil
	})
	return s.dbError("read closed events", err)
}

// Plan reports what applying the snapshot would change, writing nothing.
// On a database that was never migrated every event is new.
func (s *Store) Plan(ctx context.Context, feed string, events []traffic.Event) (RunCounts, error) {
	st, err := s.Migrations(ctx)
	if err != nil {
		return RunCounts{}, err
	}
	if len(st.Applied) == 0 {
		return newPlanner(nil).planCounts(events)
	}
	if len(st.Pending) > 0 {
		// A dry run writes nothing, not even a migration, and an older
		// schema cannot be read as this one.
		return RunCounts{}, fmt.Errorf("%s needs migrating before a dry run can compare with it (pending: %s); run trafficctl migrate",
			s.display, strings.Join(st.Pending, ", "))
	}
	db := s.db.WithContext(ctx)
	state, err := s.loadOpen(db, feed, 0)
	if err != nil {
		return RunCounts{}, err
	}
	p := newPlanner(state)
	if err := s.addClosed(db, feed, p.closed, p.unknown(events)); err != nil {
		return RunCounts{}, err
	}
	return p.planCounts(events)
}

// planCounts counts what a snapshot would change.
func (p *planner) planCounts(events []traffic.Event) (RunCounts, error) {
	if _, err := p.page(events); err != nil {
		return RunCounts{}, err
	}
	return p.counts(p.closing()), nil
}

// inBatches calls fn with consecutive slices of at most size ids.
func inBatches(ids []string, size int, fn func([]string) error) error {
	for len(ids) > 0 {
		n := min(size, len(ids))
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
