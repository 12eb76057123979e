package cmd

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// dsnPassword returns the password in a URL-form DSN, to be masked
// wherever it might appear.
func dsnPassword(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
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
