package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// looksKeyValue matches the start of a libpq keyword/value connection
// string, "host=db.example.com dbname=traffic ...", which pgx reads too.
var looksKeyValue = regexp.MustCompile(`^[A-Za-z_]+\s*=`)

// connectionKeywords are libpq's keywords (its documentation's list of
// parameter key words), one of which a keyword/value string must set to be
// taken as one: a file named "a=b.db" is a file.
var connectionKeywords = []string{"host", "hostaddr", "port", "dbname", "user", "password", "passfile",
	"channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
	"fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "replication", "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression",
	"sslcert", "sslkey", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni",
	"requirepeer", "require_auth", "ssl_min_protocol_version", "ssl_max_protocol_version", "min_protocol_version",
	"max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
	"load_balance_hosts"}

// keyValueURL turns a libpq keyword/value connection string into the
// postgres:// URL with the same settings, so that the rest (sslmode
// checks, defaults, the printed form with the password hidden) is the
// URL's. Errors never quote the string: it may hold the password.
func keyValueURL(raw string) (*url.URL, bool, error) {
	if !looksKeyValue.MatchString(raw) {
		return nil, false, nil
	}
	settings, err := parseKeyValue(raw)
	if err != nil {
		return nil, true, fmt.Errorf("%w: the key=value connection string does not parse: %v", ErrBadURL, err)
	}
	known := false
	for _, k := range connectionKeywords {
		_, ok := settings[k]
		known = known || ok
	}
	if !known {
		return nil, false, nil
	}
	u := &url.URL{Scheme: "postgres"}
	if user, ok := settings["user"]; ok {
		u.User = url.User(user)
		if pw, ok := settings["password"]; ok {
			u.User = url.UserPassword(user, pw)
		}
		delete(settings, "user")
		delete(settings, "password")
	}
	// One TCP host goes where a URL has it; a socket folder or several
	// hosts stay query parameters, which pgx reads as well.
	if host, ok := settings["host"]; ok && host != "" && !strings.ContainsAny(host, ",/") && !strings.Contains(settings["port"], ",") {
		u.Host = host
		if strings.Contains(host, ":") {
			u.Host = "[" + host + "]" // IPv6
		}
		if port := settings["port"]; port != "" {
			u.Host = net.JoinHostPort(host, port)
		}
		delete(settings, "host")
		delete(settings, "port")
	}
	if db, ok := settings["dbname"]; ok {
		u.Path = "/" + db
		delete(settings, "dbname")
	}
	q := url.Values{}
	for k, v := range settings {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode() // a password without a user stays here: pgx reads it, redact masks it
	return u, true, nil
}

// parseKeyValue reads keyword = value pairs separated by white space, as
// libpq does: a value is a word, or in single quotes, where \' and \\
// stand for ' and \. A keyword set twice takes its last value.
func parseKeyValue(s string) (map[string]string, error) {
	settings := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			return settings, nil
		}
		key, rest, ok := strings.Cut(s, "=")
		key = strings.TrimRight(key, " \t\n\r\f\v")
		if !ok || key == "" || strings.ContainsAny(key, " \t\n\r\f\v'\\") {
			return nil, errors.New("each setting must be keyword=value")
		}
		s = strings.TrimLeft(rest, " \t\n\r\f\v")
		var value strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		closed := false
		for len(s) > 0 {
			c := s[0]
			if c == '\\' && len(s) > 1 {
				value.WriteByte(s[1])
				s = s[2:]
				continue
			}
			if quoted && c == '\'' {
				s, closed = s[1:], true
				break
			}
			if !quoted && strings.IndexByte(" \t\n\r\f\v", c) >= 0 {
				break
			}
			value.WriteByte(c)
			s = s[1:]
		}
		if quoted && !closed {
			return nil, fmt.Errorf("the quoted value of %s is never closed", key)
		}
		settings[key] = value.String()
	}
}
