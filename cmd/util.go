package cmd

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/trafficctl/trafficctl/pkg/redact"
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
