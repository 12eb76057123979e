package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// A libpq keyword/value string is PostgreSQL, with the settings pgx itself
// reads from it, and is never shown with its password.
func TestKeyValueConnectionStringIsPostgres(t *testing.T) {
	t.Setenv("PGPASSFILE", "/nonexistent") // ParseConfig would read ~/.pgpass
	tests := []struct{ in, display string }{
		{"host=db.example.com port=5433 user=me password=hunter2secret dbname=traffic",
			"postgres://me:***@db.example.com:5433/traffic?connect_timeout=10&sslmode=require"},
		{"host = 127.0.0.1 dbname='traffic data' password='it\\'s hunter2secret' user=me sslmode=disable",
			"postgres://me:***@127.0.0.1/traffic%20data?connect_timeout=10&sslmode=disable"},
		{"host=/var/run/postgresql dbname=traffic", "postgres:///traffic?connect_timeout=10&host=%2Fvar%2Frun%2Fpostgresql"},
		{"host=a.example.com,b.example.com port=5432,5433 dbname=traffic password=hunter2secret",
			"postgres:///traffic?connect_timeout=10&host=a.example.com%2Cb.example.com&password=***&port=5432%2C5433&sslmode=require"},
	}
	for _, tt := range tests {
		got, err := store.ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if got.Dialect != store.Postgres || got.Display != tt.display {
			t.Errorf("ParseURL(%q) = %s %s, want postgres %s", tt.in, got.Dialect, got.Display, tt.display)
		}
		if strings.Contains(got.Display, "hunter2secret") {
			t.Errorf("Display shows the password: %s", got.Display)
		}
		want, err := pgconn.ParseConfig(tt.in)
		if err != nil {
			t.Fatalf("pgx cannot read %q: %v", tt.in, err)
		}
		have, err := pgconn.ParseConfig(got.DSN)
		if err != nil {
			t.Fatalf("pgx cannot read the DSN made of %q: %v", tt.in, err)
		}
		if have.Database != want.Database || have.User != want.User || have.Password != want.Password || hosts(have) != hosts(want) {
			t.Errorf("%q: pgx reads %s/%s as %s, want %s/%s as %s", tt.in, hosts(have), have.Database, have.User, hosts(want), want.Database, want.User)
		}
	}
}

// A keyword/value string that does not parse is a bad URL, and the error
// shows none of it.
func TestBadKeyValueConnectionStringIsNotShown(t *testing.T) {
	for _, in := range []string{"host=db password='hunter2secret", "host=db hunter2secret"} {
		_, err := store.ParseURL(in)
		if !errors.Is(err, store.ErrBadURL) || strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("ParseURL(%q): err = %v, want a bad URL that does not show it", in, err)
		}
	}
	// Any libpq keyword makes it one, also alone.
	if got, err := store.ParseURL("sslmode=disable"); err != nil || got.Dialect != store.Postgres {
		t.Errorf("ParseURL(sslmode=disable) = %+v, %v; want PostgreSQL", got, err)
	}
	// A file whose name merely has = in it is still a file.
	if got, err := store.ParseURL("run=1.db"); err != nil || got.Dialect != store.SQLite {
		t.Errorf("ParseURL(run=1.db) = %+v, %v; want a SQLite file", got, err)
	}
}

// hosts are the distinct host:port pairs pgx will try, in order (each
// twice with sslmode=prefer, with TLS and without).
func hosts(c *pgconn.Config) string {
	var out []string
	for _, fc := range append([]*pgconn.FallbackConfig{{Host: c.Host, Port: c.Port}}, c.Fallbacks...) {
		hp := fmt.Sprintf("%s:%d", fc.Host, fc.Port)
		if !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	return strings.Join(out, ",")
}
