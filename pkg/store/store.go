// Package store keeps trafficctl's data in SQLite or PostgreSQL through
// GORM: for each feed, the current events, their history as spells of
// unchanged content, and the ledger of runs; the per-feed run locks; the
// versioned migrations (literal SQL per dialect, in migrations/); the
// streaming queries that exports and status read, and SQL views of them.
// It knows nothing of HTTP or of feed formats.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/trafficctl/trafficctl/pkg/redact"
)

// Dialect names a supported database.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrBadURL is wrapped by errors about a database URL that cannot be used
// as written (a configuration error, not a failed run).
var ErrBadURL = errors.New("bad database URL")

// ErrUnavailable is wrapped when the database cannot be opened or reached.
var ErrUnavailable = errors.New("database unavailable")

// Store is an open database.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	display string      // the URL with its password hidden
	path    string      // the SQLite file
	ledger  atomic.Bool // 0005_ledger_index is known to be applied
}

// Target is a parsed database URL.
type Target struct {
	Dialect Dialect
	DSN     string // what the driver gets; may hold a password: never print it
	Display string // safe to print
}

// ParseURL reads the database URLs trafficctl accepts:
// postgres:// and postgresql:// URLs (Heroku's DATABASE_URL as it is),
// libpq's keyword/value strings ("host=... dbname=..."),
// SQLAlchemy-style sqlite:///relative.db and sqlite:////absolute.db, and a
// plain file path for SQLite.
func ParseURL(raw string) (Target, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Target{}, fmt.Errorf("%w: it is empty; set --database-url or TRAFFICCTL_DATABASE_URL", ErrBadURL)
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		if u, ok, err := keyValueURL(raw); ok || err != nil {
			if err != nil {
				return Target{}, err
			}
			return postgresTarget(u.String())
		}
		if strings.Contains(raw, ":") && !strings.ContainsAny(raw, `/\.`) {
			return Target{}, fmt.Errorf("%w: %q is neither a URL nor a file path", ErrBadURL, redact.Text(raw))
		}
		return sqliteTarget(raw)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		// sqlite:///rel.db -> "/rel.db" after the "://": one slash means relative,
		// two (sqlite:////abs.db) mean absolute, as in SQLAlchemy.
		path, ok := strings.CutPrefix(rest, "/")
		if !ok || path == "" {
			return Target{}, fmt.Errorf("%w: write SQLite URLs as sqlite:///relative/path.db or sqlite:////absolute/path.db", ErrBadURL)
		}
		return sqliteTarget(path)
	case "postgres", "postgresql":
		return postgresTarget(raw)
	default:
		return Target{}, fmt.Errorf("%w: unknown scheme %q (use postgres://, postgresql://, sqlite:/// or a file path)", ErrBadURL, scheme)
	}
}

func sqliteTarget(path string) (Target, error) {
	if strings.ContainsAny(path, "?#") {
		return Target{}, fmt.Errorf("%w: the SQLite path %q has ? or # in it", ErrBadURL, path)
	}
	// The busy timeout makes a second writer wait instead of failing at
	// once; _txlock=immediate takes the write lock when a transaction
	// begins, so a run never finds out half way through that another one
	// holds it. The page size and WAL are set by sqliteDriver.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_busy_timeout=5000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL"
	return Target{Dialect: SQLite, DSN: dsn, Display: "sqlite:///" + path}, nil
}

func postgresTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%w: it does not parse as a PostgreSQL URL", ErrBadURL)
	}
	q := u.Query()
	// Checked here: pgx reports an unknown mode as a failure to connect.
	switch mode := q.Get("sslmode"); mode {
	case "", "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return Target{}, fmt.Errorf("%w: sslmode %q is not one of disable, allow, prefer, require, verify-ca, verify-full", ErrBadURL, mode)
	}
	host := u.Hostname()
	if host == "" {
		host = q.Get("host") // postgres:///db?host=...: a socket folder, or several hosts
	}
	if q.Get("sslmode") == "" && !isLocal(host) {
		q.Set("sslmode", "require") // Heroku Postgres accepts TLS connections only
	}
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "10")
	}
	u.RawQuery = q.Encode()
	return Target{Dialect: Postgres, DSN: u.String(), Display: redact.URL(u)}, nil
}

func isLocal(host string) bool {
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Open connects to the database at rawURL. It does not migrate.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var dialector gorm.Dialector
	path := strings.TrimPrefix(t.Display, "sqlite:///")
	switch t.Dialect {
	case SQLite:
		if dir := filepath.Dir(path); dir != "" {
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("%w: open %s: the folder %s does not exist", ErrUnavailable, t.Display, dir)
			}
		}
		dialector = sqlite.New(sqlite.Config{DriverName: sqliteDriver(), DSN: t.DSN})
	case Postgres:
		dialector = postgres.Open(t.DSN)
	}
	st, err := open(ctx, t, dialector)
	if err != nil && t.Dialect == SQLite && isReadOnly(err) {
		return nil, fmt.Errorf("%w: open %s: %w: fetch and migrate write to it, export, status and report can read it", ErrUnavailable, t.Display, ErrReadOnly)
	}
	return st, err
}

// open connects through dialector and checks the connection.
func open(ctx context.Context, t Target, dialector gorm.Dialector) (*Store, error) {
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard, // errors are returned, and SQL with values must not reach logs
		SkipDefaultTransaction: true,           // every write already runs in an explicit transaction
	})
	if err != nil {
		if t.Dialect == SQLite && isReadOnly(err) {
			return nil, err // Open says it in a sentence; OpenForReading tries again
		}
		return nil, fmt.Errorf("%w: open %s: %s", ErrUnavailable, t.Display, redact.Text(rootMessage(err)))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrUnavailable, t.Display, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		if t.Dialect == SQLite && isReadOnly(err) {
			return nil, err // Open says it in a sentence; OpenForReading tries again
		}
		return nil, fmt.Errorf("%w: open %s: %s", ErrUnavailable, t.Display, redact.Text(rootMessage(err)))
	}
	return &Store{db: db, dialect: t.Dialect, display: t.Display, path: strings.TrimPrefix(t.Display, "sqlite:///")}, nil
}

// sqlitePageSize is the page size of a new SQLite database. Rows carry an
// event's raw JSON (about 1 KB each); with 16 KiB pages a snapshot of new
// events is written (to the WAL, then checkpointed) in a quarter of the
// system calls of the default 4 KiB, which is most of the time of a large
// first fetch. An existing database keeps its page size.
const sqlitePageSize = 16384

var registerSQLite sync.Once

// sqliteDriver registers, once, mattn/go-sqlite3 with a connect hook that
// sets the page size (which only takes effect while the file is still
// empty, so it must come before WAL is switched on, which writes the
// header) and then WAL, which lets exports read while a fetch writes.
func sqliteDriver() string {
	const name = "sqlite3_trafficctl"
	registerSQLite.Do(func() {
		sql.Register(name, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			if foreign, err := anotherProgramsFile(c); err != nil || foreign {
				return err // its journal mode is its owner's (Migrations refuses it)
			}
			if _, err := c.Exec(fmt.Sprintf("PRAGMA page_size = %d;", sqlitePageSize), nil); err != nil {
				return err
			}
			return switchToWAL(c)
		}})
	})
	return name
}

// sqliteBusyTimeout is the _busy_timeout of the SQLite DSN.
const sqliteBusyTimeout = 5 * time.Second

// shortBusyTimeout makes conn wait 100 ms at most for SQLite's write lock,
// for a caller that retries in its own loop until ctx ends; restore sets
// the DSN's timeout back.
func shortBusyTimeout(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 100"); err != nil {
		return nil, err
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", sqliteBusyTimeout.Milliseconds()))
	}, nil
}

// switchToWAL turns WAL on. On a new file that takes the write lock, and
// SQLite fails the switch at once, without calling the busy handler, when
// another connection holds that lock: several first runs at once (each
// switching the new file) would then fail. A busy switch is retried for
// as long as the busy timeout would have waited; once the file is in WAL
// mode the statement changes nothing and takes no lock.
func switchToWAL(c *sqlite3.SQLiteConn) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		_, err := c.Exec("PRAGMA journal_mode = WAL;", nil)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// rootMessage is the innermost error's text: the driver's reason, without
// the layers of "failed to initialize database" around it.
func rootMessage(err error) string {
	for {
		if joined, ok := err.(interface{ Unwrap() []error }); ok && strings.Contains(err.Error(), "\n") {
			return joinedMessage(joined.Unwrap())
		}
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// joinedMessage is the distinct messages of errors.Join'ed errors, on one
// line. pgx joins the failure of every attempt: with sslmode=prefer it
// tries TLS, then plain text, and a refused connection is refused twice.
func joinedMessage(errs []error) string {
	var msgs []string
	for _, e := range errs {
		if m := strings.ReplaceAll(e.Error(), "\n", " "); !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, "; ")
}

// Close closes the connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Display is the database URL with its password hidden.
func (s *Store) Display() string { return s.display }

// DB exposes the GORM handle to tests in this module.
func (s *Store) DB() *gorm.DB { return s.db }

// maxParams is the bind-parameter limit of one statement.
func (s *Store) maxParams() int {
	if s.dialect == Postgres {
		return 65535
	}
	return 32766 // SQLITE_MAX_VARIABLE_NUMBER in the bundled SQLite 3.45
}

// dbError turns a driver error into one sentence without secrets.
func (s *Store) dbError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &driverError{msg: fmt.Sprintf("%s on %s: %s", what, s.display, redact.Text(err.Error())), err: err}
}

// driverError is a driver's error said without secrets, which still
// unwraps to the driver's own (isBusy reads its code).
type driverError struct {
	msg string
	err error
}

func (e *driverError) Error() string { return e.msg }
func (e *driverError) Unwrap() error { return e.err }
