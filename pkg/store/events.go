package store

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"

	"github.com/trafficctl/trafficctl/pkg/open511"
)

// known is what the database holds of one event id.
type known struct {
	hash    string
	version int
	open    bool
}

// plan sorts a snapshot's events against what is stored. Unchanged events
// need no write at all: their open spell goes on by itself.
type plan struct {
	write    []open511.Event // new, changed or reopened: upsert and start a spell
	versions []int           // the spell number of each write
	ending   []string        // ids whose open spell ends at the previous run: changed or gone
	closed   []string        // open ids absent from the snapshot
	counts   Counts
}

// loadOpen reads the open events' ids, hashes and spell numbers: one query,
// through the covering index events_open.
func (s *Store) loadOpen(tx *gorm.DB) (map[string]known, error) {
	state := map[string]known{}
	rows, err := tx.Raw("SELECT id, content_hash, current_version FROM events WHERE closed_at IS NULL").Rows()
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

// addClosed adds to state which of the snapshot's other ids exist at all
// (closed events), in batches: the number of statements grows with
// events / batch size, never with events.
func (s *Store) addClosed(tx *gorm.DB, state map[string]known, events []open511.Event) error {
	var other []string
	for _, e := range events {
		if _, ok := state[e.ID]; !ok {
			other = append(other, e.ID)
		}
	}
	err := inBatches(other, s.maxParams(), func(ids []string) error {
		var found []struct {
			ID             string
			CurrentVersion int
		}
		if err := tx.Model(&Event{}).Select("id, current_version").Where("id IN ?", ids).Find(&found).Error; err != nil {
			return err
		}
		for _, f := range found {
			state[f.ID] = known{version: f.CurrentVersion}
		}
		return nil
	})
	return s.dbError("read closed events", err)
}

func makePlan(state map[string]known, events []open511.Event) plan {
	var p plan
	present := make(map[string]bool, len(events))
	for _, e := range events {
		present[e.ID] = true
		k, stored := state[e.ID]
		switch {
		case !stored:
			p.counts.New++
			p.write = append(p.write, e)
			p.versions = append(p.versions, 1)
		case k.open && k.hash == e.ContentHash:
			p.counts.Unchanged++
		default: // changed while open, or back after being closed
			p.counts.Changed++
			p.write = append(p.write, e)
			p.versions = append(p.versions, k.version+1)
			if k.open {
				p.ending = append(p.ending, e.ID)
			}
		}
	}
	for id, k := range state {
		if k.open && !present[id] {
			p.closed = append(p.closed, id)
			p.ending = append(p.ending, id)
		}
	}
	p.counts.Closed = len(p.closed)
	return p
}

// Plan reports what applying the snapshot would change, writing nothing.
// On a database that was never migrated every event is new.
func (s *Store) Plan(ctx context.Context, events []open511.Event) (Counts, error) {
	st, err := s.Migrations(ctx)
	if err != nil {
		return Counts{}, err
	}
	if len(st.Applied) == 0 {
		return makePlan(nil, events).counts, nil
	}
	db := s.db.WithContext(ctx)
	state, err := s.loadOpen(db)
	if err != nil {
		return Counts{}, err
	}
	if err := s.addClosed(db, state, events); err != nil {
		return Counts{}, err
	}
	return makePlan(state, events).counts, nil
}

// applySnapshot writes one snapshot inside the run's transaction. state
// holds the open events; prev is the previous successful run: the spells
// that end, end there.
func (s *Store) applySnapshot(tx *gorm.DB, conn *sql.Conn, state map[string]known, runID int64, prev RunStart, at time.Time, events []open511.Event) (Counts, error) {
	if err := s.addClosed(tx, state, events); err != nil {
		return Counts{}, err
	}
	p := makePlan(state, events)

	// End the open spells of changed and vanished events first, so that the
	// new spells inserted below stay open.
	err := inBatches(p.ending, s.maxParams()-2, func(ids []string) error {
		return tx.Model(&EventVersion{}).Where("last_run_id IS NULL AND event_id IN ?", ids).
			Updates(map[string]any{"last_run_id": prev.ID, "valid_to": prev.Started}).Error
	})
	if err != nil {
		return Counts{}, s.dbError("end spells", err)
	}
	if err := s.writeEvents(tx, conn, runID, at, p.write, p.versions); err != nil {
		return Counts{}, err
	}
	err = inBatches(p.closed, s.maxParams()-2, func(ids []string) error {
		return tx.Model(&Event{}).Where("id IN ?", ids).
			Updates(map[string]any{"closed_at": at, "last_seen_at": prev.Started}).Error
	})
	if err != nil {
		return Counts{}, s.dbError("close absent events", err)
	}
	return p.counts, nil
}

// rowsPerBatch is how many rows of n columns fit in one statement.
func (s *Store) rowsPerBatch(columns int) int { return s.maxParams() / columns }

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
