package store

import (
	"embed"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrationFiles are the migrations' SQL, one file per migration and
// dialect: migrations/<ID>.sqlite.sql and migrations/<ID>.postgres.sql.
// A file is history once released: it is never edited, and never built
// from code that can change (traffic.Fields), so a fresh database and an
// upgraded one are the same.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// sqlMigration is migration id: its dialect's file, run in the migration's
// transaction, then the steps in after, which must be frozen code too (a
// fill that SQL cannot express on both dialects, kept as it was written).
//
// A file is run by one Exec, whole: both drivers run every statement of a
// string without arguments in turn, in the open transaction. mattn/go-sqlite3
// prepares and steps each statement of the text until none is left; pgx sends
// a query without arguments through PostgreSQL's simple protocol, which
// accepts several statements. So the files need no splitting (no parser of
// ours to get quotes or comments wrong), and a failing statement rolls back
// the whole migration.
func (s *Store) sqlMigration(id string, after ...func(tx *gorm.DB) error) *gormigrate.Migration {
	return &gormigrate.Migration{ID: id, Migrate: func(tx *gorm.DB) error {
		name := "migrations/" + id + "." + string(s.dialect) + ".sql"
		text, err := migrationFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migration %s: no %s in this build", id, name)
		}
		if err := tx.Exec(string(text)).Error; err != nil {
			return fmt.Errorf("migration %s (%s): %w", id, s.dialect, err)
		}
		for _, step := range after {
			if err := step(tx); err != nil {
				return fmt.Errorf("migration %s: %w", id, err)
			}
		}
		return nil
	}}
}
