package store

import (
	"embed"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrationSQL holds the literal SQL of the migrations written as files:
// migrations/<ID>.sqlite.sql and migrations/<ID>.postgres.sql.
//
//go:embed migrations/*.sql
var migrationSQL embed.FS

// sqlMigration is the migration id whose SQL is the dialect's file, run as
// it is in the migration's transaction: fixed text, never built from code
// that can change.
func (s *Store) sqlMigration(id string) *gormigrate.Migration {
	return &gormigrate.Migration{ID: id, Migrate: func(tx *gorm.DB) error {
		text, err := migrationSQL.ReadFile("migrations/" + id + "." + string(s.dialect) + ".sql")
		if err != nil {
			return fmt.Errorf("migration %s: %w", id, err)
		}
		if err := tx.Exec(string(text)).Error; err != nil {
			return fmt.Errorf("migration %s: %w", id, err)
		}
		return nil
	}}
}
