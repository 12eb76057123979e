package cmd

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
)

// A libpq keyword/value database URL is PostgreSQL: it was taken as a
// SQLite path, so migrate created a file named after it (password and
// all) and printed it. Not parallel: it runs in its own folder, to see
// that no file appears there.
func TestKeyValueDatabaseURLIsPostgres(t *testing.T) {
	const password = "KVSCAN-7a6b5c4d"
	dir := t.TempDir()
	t.Chdir(dir)
	var seen strings.Builder
	check := func(dsn string, code int, args ...string) {
		t.Helper()
		got, stdout, stderr := run(t, time.Now(), append([]string{"--database-url", dsn, "--log-level", "debug"}, args...)...)
		seen.WriteString(stdout + stderr)
		if got != code {
			t.Errorf("%v on %s: exit %d, want %d:\n%s", args, strings.Fields(dsn)[0], got, code, stdout+stderr)
		}
	}
	dead := "host=127.0.0.1 port=1 user=me password=" + password + " dbname=traffic sslmode=disable"
	check(dead, ExitFailed, "migrate")
	check(dead, ExitFailed, "status")
	check(dead, ExitFailed, "export", "--table", "runs", "--csv")

	pg, err := url.Parse(dbtest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	live := "host=" + pg.Hostname() + " port=" + pg.Port() + " user=" + pg.User.Username() +
		" password=" + password + " dbname=" + strings.TrimPrefix(pg.Path, "/") + " sslmode=disable" // trust auth ignores the password
	check(live, 0, "migrate")
	check(live, 0, "status")
	check(live, 0, "export", "--table", "runs", "--csv")
	if !strings.Contains(seen.String(), "postgres://") {
		t.Errorf("the database was never named as PostgreSQL:\n%s", seen.String())
	}
	if i := strings.Index(seen.String(), password); i >= 0 {
		t.Errorf("the password leaked: ...%s...", seen.String()[max(0, i-200):i+len(password)])
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a file was created: %s", entries[0].Name())
	}
}
