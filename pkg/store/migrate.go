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

// migrations is the versioned schema, oldest first: the SQL of each is in
// migrations/ (see sqlMigration). Applied ones are never edited: a change
// is a new migration.
func (s *Store) migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		s.sqlMigration("0001_initial"),
		s.sqlMigration("0002_feeds", fillSchedule0002),
		s.sqlMigration("0003_views"),
		s.sqlMigration("0004_content_in_spells"),
		s.sqlMigration("0005_ledger_index"),
		s.sqlMigration("0006_vocabulary"),
	}
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
		readErr := db.Table(migrationsTable).Pluck("id", &ids).Error
		if err := s.checkMigrationsTable(db, ids, readErr); err != nil {
			return st, err
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
			return nil, fmt.Errorf("migrate %s: wait for the database's write lock (another run holds it): %w", s.display, context.Cause(ctx))
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
	db := s.db.WithContext(ctx)
	if s.dialect == SQLite {
		// Wait for the write lock in Migrate's loop, which gives up when ctx
		// ends, not in the driver's busy timeout (5 s), which does not.
		sqlDB, err := s.db.DB()
		if err != nil {
			return nil, err
		}
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			return nil, s.dbError("connect", err)
		}
		defer conn.Close()
		restore, err := shortBusyTimeout(ctx, conn)
		if err != nil {
			return nil, s.dbError("migrate", err)
		}
		defer restore()
		db.Statement.ConnPool = conn
	}
	err = db.Transaction(func(tx *gorm.DB) error {
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
// information_schema, which is slow, and this is read on every run.
func (s *Store) hasMigrationsTable(db *gorm.DB) bool {
	if s.dialect != Postgres {
		return db.Migrator().HasTable(migrationsTable)
	}
	var exists bool
	return db.Raw("SELECT to_regclass(?) IS NOT NULL", migrationsTable).Scan(&exists).Error == nil && exists
}
