package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mattn/go-sqlite3"
	"gorm.io/gorm"
)

// ErrForeignSchema is wrapped when the database's schema_migrations table
// is another program's (Rails, goose, … use that name too): trafficctl
// must neither read it as its own nor migrate next to it.
var ErrForeignSchema = errors.New("schema_migrations table is not trafficctl's")

// firstMigration is in every database trafficctl migrated.
const firstMigration = "0001_initial"

// checkMigrationsTable refuses a schema_migrations table that trafficctl
// did not make: gormigrate's has one column, id, and holds firstMigration
// once any migration is applied. Rails' has version only; goose's has id
// too, with version_id, is_applied and tstamp. ids and readErr are the
// result of reading its id column; the columns are read only when that
// failed or did not find firstMigration.
func (s *Store) checkMigrationsTable(db *gorm.DB, ids []string, readErr error) error {
	if readErr == nil && slices.Contains(ids, firstMigration) {
		return nil
	}
	var cols []string
	q := "SELECT name FROM pragma_table_info('" + migrationsTable + "') ORDER BY cid"
	if s.dialect == Postgres {
		// The catalog, not information_schema, which is slow (see hasMigrationsTable).
		q = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('" + migrationsTable + "') AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
	}
	if err := db.Raw(q).Scan(&cols).Error; err != nil {
		return s.dbError("read the columns of "+migrationsTable, err)
	}
	if slices.Equal(cols, []string{"id"}) {
		if readErr != nil {
			return s.dbError("read applied migrations", readErr)
		}
		if len(ids) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%s: its %w (its columns: %s): it looks like another program's database; give trafficctl a database of its own (nothing was changed)",
		s.display, ErrForeignSchema, strings.Join(cols, ", "))
}

// anotherProgramsFile says whether the SQLite file c opened has a
// schema_migrations table but not trafficctl's ledger: another program
// migrated it, and Migrations will refuse it. It is then left in its
// journal mode rather than switched to WAL, which would change the file.
func anotherProgramsFile(c *sqlite3.SQLiteConn) (bool, error) {
	rows, err := c.Query(`SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '`+migrationsTable+`')
		AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'fetch_runs')`, nil)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil && err != io.EOF {
		return false, err
	}
	n, _ := v[0].(int64)
	return n == 1, nil
}
