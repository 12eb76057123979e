// Package dbtest gives tests a fresh, real database of each kind: a SQLite
// file in a temporary folder always, and a new PostgreSQL database on the
// server named by TRAFFICCTL_TEST_DATABASE_URL when it is set. With
// TRAFFICCTL_REQUIRE_POSTGRES=1 a missing server fails the test instead of
// skipping it.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// EnvURL names the PostgreSQL server tests may use.
const EnvURL = "TRAFFICCTL_TEST_DATABASE_URL"

// Main runs a package's tests (m.Run) with up to four parallel tests per
// CPU at once instead of go test's default of one, unless -parallel is
// given: tests against a real database spend most of their time waiting,
// on the server, on child processes or on retry delays, not on the CPU.
func Main(m interface{ Run() int }) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", strconv.Itoa(4*runtime.GOMAXPROCS(0))); err != nil {
			panic(err)
		}
	}
	return m.Run()
}

// Each runs fn once per available database kind, as subtests "sqlite" and
// "postgres", each with the URL of a new empty database. The two run in
// parallel (with each other and with other parallel tests), so fn must
// not change process state (t.Setenv, t.Chdir) nor data it shares with
// the other kind.
func Each(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, Postgres(t)) })
}

// SQLite returns the URL of a new SQLite file.
func SQLite(t testing.TB) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), "test.db")
}

// Postgres creates a new database and returns its URL; it is dropped when
// the test ends. Without a server it skips, or fails when one is required.
func Postgres(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvURL) == "" {
		if os.Getenv("TRAFFICCTL_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("%s is not set but TRAFFICCTL_REQUIRE_POSTGRES=1", EnvURL)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test) to run them", EnvURL)
	}
	u, drop, err := CreatePostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return u
}

// CreatePostgres creates a new database on the server named by EnvURL and
// returns its URL and a function that drops it.
func CreatePostgres() (string, func(), error) {
	base := os.Getenv(EnvURL)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", EnvURL, err)
	}
	sqlDB, _ := admin.DB()
	defer sqlDB.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := "trafficctl_test_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		return "", nil, fmt.Errorf("create test database: %w", err)
	}
	drop := func() {
		admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			return
		}
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if d, err := admin.DB(); err == nil {
			d.Close()
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// Dump is every row a query returns, as text: a fingerprint of a table's
// content that tests compare before and after a run.
func Dump(t testing.TB, db *gorm.DB, query string) string {
	t.Helper()
	rows, err := db.Raw(query).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v|", cols[i], v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Open opens the database at dbURL with its schema migrated, and closes it
// when the test ends.
func Open(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	s := OpenAsIs(t, dbURL)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// OpenAsIs is Open without migrating: a database as an older release, or
// none, left it.
func OpenAsIs(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
