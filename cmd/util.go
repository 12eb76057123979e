package cmd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// dsnPassword returns the password in a URL-form DSN, to be masked
// wherever it might appear: in its user part, or in its query (where a
// key=value string without a user puts it).
func dsnPassword(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// urlSecrets are the values of the query parameters of a feed's URL and
// params whose names look like secrets (a token= or subscription-key=),
// to be masked wherever they might appear.
func urlSecrets(rawURL string, params map[string]string) []string {
	var out []string
	if u, err := url.Parse(rawURL); err == nil {
		for name, values := range u.Query() {
			if redact.SecretName(name) {
				out = append(out, values...)
			}
		}
	}
	for name, value := range params {
		if redact.SecretName(name) {
			out = append(out, value)
		}
	}
	return out
}

// knownFeeds checks that every name in names is a feed of the
// configuration or of the database, and returns all those feeds, sorted;
// a name that is neither is a usage error naming them.
func knownFeeds(names, configured, stored []string) ([]string, error) {
	all := slices.Clone(configured)
	for _, f := range stored {
		if !slices.Contains(all, f) {
			all = append(all, f)
		}
	}
	slices.Sort(all)
	for _, name := range names {
		if !slices.Contains(all, name) {
			if len(all) == 0 {
				return nil, usageError{fmt.Errorf("no feed named %q; there are no feeds", name)}
			}
			return nil, usageError{fmt.Errorf("no feed named %q; the feeds are %s", name, strings.Join(all, ", "))}
		}
	}
	return all, nil
}

// openCollected opens the database of a command that reads what was
// collected (export, report) and checks that it was migrated and that
// feeds are feeds of the configuration or of the database. A SQLite file
// that does not exist is reported, not created (a mistyped path would
// leave stray files); a mistyped feed would give an empty result.
func openCollected(ctx context.Context, open func(context.Context) (*store.Store, error), dbURL string, feeds, configured []string) (*store.Store, error) {
	if store.NotCreated(dbURL) {
		t, err := store.ParseURL(dbURL)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("nothing collected yet in %s: the file does not exist", t.Display)
	}
	st, err := open(ctx)
	if err != nil {
		return nil, err
	}
	err = requireSchema(ctx, st)
	if err == nil && len(feeds) > 0 {
		var stored []string
		if stored, err = st.FeedNames(ctx); err == nil {
			_, err = knownFeeds(feeds, configured, stored)
		}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// requireSchema fails with a clear sentence on a database never fetched into.
func requireSchema(ctx context.Context, st *store.Store) error {
	m, err := st.Migrations(ctx)
	if err != nil {
		return err
	}
	if len(m.Applied) == 0 {
		return fmt.Errorf("%s has no trafficctl data yet: run trafficctl fetch (or trafficctl migrate) first", st.Display())
	}
	return nil
}

// parseWindow reads --since and --until (dates in loc; nil is UTC) and
// checks that the window they give is not empty.
func parseWindow(since, until string, loc *time.Location) (from, to time.Time, err error) {
	if from, err = parseWhen(since, false, loc); err != nil {
		return from, to, fmt.Errorf("--since: %w", err)
	}
	if to, err = parseWhen(until, true, loc); err != nil {
		return from, to, fmt.Errorf("--until: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, fmt.Errorf("--since must be before --until")
	}
	return from, to, nil
}
