package store_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestAnotherProgramsSQLiteFileIsNotChanged: a SQLite file of another
// program (Rails' schema_migrations) is refused without being changed at
// all: no table is made, and its journal mode stays (trafficctl switches
// its own files to WAL when it opens them).
func TestAnotherProgramsSQLiteFileIsNotChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "development.sqlite3")
	db := openPlain(t, path)
	for _, q := range []string{
		"CREATE TABLE schema_migrations (version VARCHAR NOT NULL PRIMARY KEY)",
		"INSERT INTO schema_migrations VALUES ('20240101000000')",
		"CREATE TABLE users (id INTEGER PRIMARY KEY)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	state := func() (mode string, tables int) {
		t.Helper()
		db := openPlain(t, path)
		defer db.Close()
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		return mode, tables
	}
	db.Close() // no other connection: nothing would stop a switch to WAL
	mode, tables := state()

	s, err := store.Open(ctx, "sqlite:///"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); !errors.Is(err, store.ErrForeignSchema) {
		t.Fatalf("Migrate: err = %v, want ErrForeignSchema", err)
	}
	if m, n := state(); m != mode || n != tables {
		t.Errorf("journal mode %s and %d schema objects, were %s and %d", m, n, mode, tables)
	}
}

// openPlain opens path with the plain driver, one connection, closed at
// the end of the test.
func openPlain(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
