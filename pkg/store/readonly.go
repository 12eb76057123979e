package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
)

// ErrReadOnly is wrapped when a SQLite file cannot be opened for writing:
// the file or its folder is not writable by this user, or the file system
// is mounted read-only.
var ErrReadOnly = errors.New("it is read-only here (the file or its folder cannot be written by this user, or the file system is read-only)")

// isReadOnly says whether err is SQLite's refusal to write: opening a
// database sets WAL mode, which writes, and a database in WAL mode needs
// its -shm file, which cannot be created in a read-only folder.
func isReadOnly(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrReadonly
	}
	return strings.Contains(err.Error(), "attempt to write a readonly database")
}

// OpenForReading is Open for commands that only read (export, status). A
// SQLite file that cannot be written here (another user's, or on a
// read-only mount) is opened read-only instead: with mode=ro, and, when
// even that fails because its folder cannot hold the -shm file a WAL
// database needs, as immutable. Immutable is safe there: no process can be
// writing it in WAL mode, as that would have made the -shm file.
func OpenForReading(ctx context.Context, rawURL string) (*Store, error) {
	st, err := Open(ctx, rawURL)
	if err == nil || !errors.Is(err, ErrReadOnly) {
		return st, err
	}
	t, perr := ParseURL(rawURL)
	if perr != nil {
		return nil, perr
	}
	for _, params := range []string{"mode=ro", "mode=ro&immutable=1"} {
		path, _, _ := strings.Cut(t.DSN, "?")
		ro := t
		ro.DSN = path + "?" + params + "&_busy_timeout=5000&_foreign_keys=on"
		s, oerr := open(ctx, ro, sqlite.New(sqlite.Config{DriverName: sqliteReadDriver(), DSN: ro.DSN}))
		if oerr == nil {
			// Opening reads nothing: the first read is where WAL fails.
			if oerr = s.db.WithContext(ctx).Exec("SELECT count(*) FROM sqlite_master").Error; oerr == nil {
				return s, nil
			}
			s.Close()
		}
		if !isReadOnly(oerr) {
			return nil, fmt.Errorf("%w: open %s read-only: %s", ErrUnavailable, t.Display, rootMessage(oerr))
		}
	}
	return nil, err
}

var registerSQLiteRead sync.Once

// sqliteReadDriver is mattn/go-sqlite3 without sqliteDriver's connect
// hook, whose page size and WAL settings write.
func sqliteReadDriver() string {
	const name = "sqlite3_trafficctl_read"
	registerSQLiteRead.Do(func() { sql.Register(name, &sqlite3.SQLiteDriver{}) })
	return name
}
