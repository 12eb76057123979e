package cmd

import (
	"net/url"
	"os"

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
