package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrationsTable records which migrations were applied.
const migrationsTable = "schema_migrations"

// Advisory lock keys (PostgreSQL). Arbitrary, fixed, and only ours.
const (
	migrateLockKey = 5110001
	fetchLockKey   = 5110002
)

// migrations is the versioned schema, oldest first. Applied ones are never
// edited: a change is a new migration.
func (s *Store) migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{ID: "0001_initial", Migrate: func(tx *gorm.DB) error { return execAll(tx, s.initialSchema()) }},
		{ID: "0002_feeds", Migrate: s.migrateFeeds},
		{ID: "0003_views", Migrate: migrateViews},
		s.sqlMigration("0005_ledger_index"),
	}
}

// initialSchema is written as SQL rather than derived from the models so
// that the schema of each applied version is fixed text, and so that each
// dialect gets its own types: jsonb for raw on PostgreSQL (queryable), text
// on SQLite; timestamptz on PostgreSQL so times are unambiguous.
func (s *Store) initialSchema() []string {
	id, ts, float, raw := "INTEGER PRIMARY KEY AUTOINCREMENT", "DATETIME", "REAL", "TEXT"
	if s.dialect == Postgres {
		id, ts, float, raw = "BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "DOUBLE PRECISION", "JSONB"
	}
	fields := `headline TEXT NOT NULL DEFAULT '',
	event_type TEXT NOT NULL DEFAULT '',
	severity TEXT NOT NULL DEFAULT '',
	lat ` + float + `,
	lon ` + float + `,
	status TEXT NOT NULL DEFAULT '',
	event_subtypes TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	roads TEXT NOT NULL DEFAULT '',
	areas TEXT NOT NULL DEFAULT '',
	created ` + ts + `,
	updated ` + ts + `,
	geometry_type TEXT NOT NULL DEFAULT '',
	geometry TEXT NOT NULL DEFAULT ''`
	return []string{
		`CREATE TABLE fetch_runs (
	id ` + id + `,
	started_at ` + ts + ` NOT NULL,
	finished_at ` + ts + ` NOT NULL,
	status TEXT NOT NULL,
	source_url TEXT NOT NULL DEFAULT '',
	pages INTEGER NOT NULL DEFAULT 0,
	events_received INTEGER NOT NULL DEFAULT 0,
	events_new INTEGER NOT NULL DEFAULT 0,
	events_changed INTEGER NOT NULL DEFAULT 0,
	events_unchanged INTEGER NOT NULL DEFAULT 0,
	events_closed INTEGER NOT NULL DEFAULT 0,
	events_skipped INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	version TEXT NOT NULL DEFAULT ''
)`,
		// The latest successful run is looked up by every fetch and status.
		`CREATE INDEX fetch_runs_status_id ON fetch_runs (status, id)`,
		`CREATE TABLE events (
	id TEXT PRIMARY KEY,
	` + fields + `,
	first_seen_at ` + ts + ` NOT NULL,
	last_seen_at ` + ts + `, -- NULL while open: the latest successful run's started_at
	closed_at ` + ts + `,
	current_version INTEGER NOT NULL,
	content_hash TEXT NOT NULL,
	raw ` + raw + ` NOT NULL
)`,
		// Each fetch reads the open events' ids and hashes: a covering
		// partial index keeps that read off the wide rows.
		`CREATE INDEX events_open ON events (id, content_hash, current_version) WHERE closed_at IS NULL`,
		`CREATE TABLE event_versions (
	event_id TEXT NOT NULL REFERENCES events (id),
	version INTEGER NOT NULL,
	first_run_id BIGINT NOT NULL REFERENCES fetch_runs (id),
	last_run_id BIGINT REFERENCES fetch_runs (id), -- NULL while open: the latest successful run
	valid_from ` + ts + ` NOT NULL,
	valid_to ` + ts + `, -- NULL while open
	content_hash TEXT NOT NULL,
	` + fields + `,
	raw ` + raw + ` NOT NULL,
	PRIMARY KEY (event_id, version)
)`,
		// The snapshots export sweeps spells in the order they begin.
		`CREATE INDEX event_versions_first_run ON event_versions (first_run_id, event_id)`,
	}
}

// types are the column types of the dialect.
func (s *Store) types() (id, ts, float, raw string) {
	if s.dialect == Postgres {
		return "BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "DOUBLE PRECISION", "JSONB"
	}
	return "INTEGER PRIMARY KEY AUTOINCREMENT", "DATETIME", "REAL", "TEXT"
}

func execAll(tx *gorm.DB, statements []string) error {
	for _, stmt := range statements {
		if err := tx.Exec(stmt).Error; err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(stmt, "(", 2)[0], err)
		}
	}
	return nil
}

// MigrationStatus lists applied and pending migration ids.
type MigrationStatus struct {
	Applied []string
	Pending []string
	// Unknown are applied ids this trafficctl does not know: a newer
	// release migrated the database.
	Unknown []string
}

// ErrNewerSchema is wrapped when the database has a migration this
// trafficctl does not know: a newer release migrated it, and this one
// must neither write to nor read a schema it does not understand.
var ErrNewerSchema = errors.New("this database was migrated by a newer trafficctl")

// Migrations reports which migrations are applied and which are pending.
// When the database has migrations this trafficctl does not know, it
// returns them in Unknown with an error wrapping ErrNewerSchema: every
// command reads this before anything else, so each refuses such a database.
func (s *Store) Migrations(ctx context.Context) (MigrationStatus, error) {
	var st MigrationStatus
	db := s.db.WithContext(ctx)
	applied := map[string]bool{}
	if s.hasMigrationsTable(db) {
		var ids []string
		if err := db.Table(migrationsTable).Pluck("id", &ids).Error; err != nil {
			return st, s.dbError("read applied migrations", err)
		}
		for _, id := range ids {
			applied[id] = true
		}
	}
	for _, m := range s.migrations() {
		if applied[m.ID] {
			st.Applied = append(st.Applied, m.ID)
			delete(applied, m.ID)
		} else {
			st.Pending = append(st.Pending, m.ID)
		}
	}
	if len(applied) > 0 {
		for id := range applied {
			st.Unknown = append(st.Unknown, id)
		}
		sort.Strings(st.Unknown)
		return st, fmt.Errorf("%w (unknown migration %s); upgrade trafficctl", ErrNewerSchema, strings.Join(st.Unknown, ", "))
	}
	return st, nil
}

// Migrate applies every pending migration in one transaction and returns
// the ids it applied (none when the schema was current). Concurrent
// migrations wait for each other: on PostgreSQL through an advisory lock,
// on SQLite through the immediate write transaction, for as long as ctx
// allows. SQLite's busy timeout alone is not enough: on a new file the
// first of several runs started at once migrates and then holds the write
// lock for its whole fetch, longer than the others' busy timeout; when
// they try again they find nothing left to apply.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		applied, err := s.migrateOnce(ctx, "")
		if err == nil || !isBusy(err) {
			return applied, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// migrateOnce is one attempt of Migrate.
// MigrateTo applies the pending migrations up to and including id: a
// database as an older release left it, for upgrade tests.
func (s *Store) MigrateTo(ctx context.Context, id string) ([]string, error) {
	return s.migrateOnce(ctx, id)
}

func (s *Store) migrateOnce(ctx context.Context, target string) ([]string, error) {
	before, err := s.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	if len(before.Pending) == 0 {
		return nil, nil
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockKey).Error; err != nil {
				return err
			}
		}
		m := gormigrate.New(tx, &gormigrate.Options{
			TableName:                 migrationsTable,
			IDColumnName:              "id",
			IDColumnSize:              255,
			UseTransaction:            false, // we already are in one, holding the lock
			ValidateUnknownMigrations: true,  // a newer trafficctl migrated this database
		}, s.migrations())
		if target != "" {
			return m.MigrateTo(target)
		}
		return m.Migrate()
	})
	if err != nil {
		if errors.Is(err, gormigrate.ErrUnknownPastMigration) {
			return nil, fmt.Errorf("migrate %s: the database has migrations this trafficctl does not know; upgrade trafficctl", s.display)
		}
		return nil, s.dbError("migrate", err)
	}
	after, err := s.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, id := range before.Pending {
		for _, a := range after.Applied {
			if a == id {
				applied = append(applied, id)
			}
		}
	}
	return applied, nil
}

// hasMigrationsTable reports whether the migrations table exists. On
// PostgreSQL it asks the catalog directly: GORM's HasTable goes through
// information_schema, which costs about 10 ms on every run.
func (s *Store) hasMigrationsTable(db *gorm.DB) bool {
	if s.dialect != Postgres {
		return db.Migrator().HasTable(migrationsTable)
	}
	var exists bool
	return db.Raw("SELECT to_regclass(?) IS NOT NULL", migrationsTable).Scan(&exists).Error == nil && exists
}
