package store

import (
	"embed"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrationFiles hold the literal SQL of the migrations written as files:
// migrations/<ID>.sqlite.sql and migrations/<ID>.postgres.sql. Once
// released a file is history and never edited.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// sqlMigration is migration id: its dialect's file, run whole by one Exec
// in the migration's transaction (both drivers run each statement of a text
// without arguments in turn), then the steps in after.
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
