// Package redact removes secrets (API keys, database passwords) from text
// before it is printed, logged or stored.
//
// It is its own package because every layer needs it: the feed client turns
// request URLs into errors, the store turns DSNs into errors, and the command
// layer prints whatever reaches it. Redaction happens where a URL or DSN
// becomes text, and once more on every line that leaves the process.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret in output.
const Mask = "***"

// keyParam matches an api_key (or apikey, access_token) query parameter in any text,
// including URLs embedded in Go's "Get \"https://...\": ..." errors and
// percent-encoded forms.
var keyParam = regexp.MustCompile(`(?i)((?:api_key|apikey|access_token)(?:=|%3D))[^&\s"'<>]*`)

// queryParams match a query parameter of a URL in text, after its ? or &,
// and percent-encoded, as in a next_url that is itself a parameter, where
// the value ends at an encoded &: group 2 is its name, group 3 its value.
var queryParams = []*regexp.Regexp{
	regexp.MustCompile(`([?&]([^=&?\s"'<>]+)=)([^&\s"'<>]*)`),
	regexp.MustCompile(`(?i)((?:%3F|%26)([^=&?\s"'<>%]+)%3D)((?:[^&\s"'<>%]|%[013-9a-f][0-9a-f]|%2[0-57-9a-f])*)`),
}

// secretWords make a query parameter's name look like a secret's when they
// are part of it: api_key, subscription-key, token, X-Amz-Signature, ...
var secretWords = []string{"key", "token", "secret", "signature", "password", "passwd", "pwd", "auth", "credential", "session"}

// SecretName reports whether a query parameter's name looks like that of
// a secret, whose value is masked wherever a URL becomes text. Some names
// are secrets whole: sig (Azure's SAS signature) and code (Azure
// Functions' key).
func SecretName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "sig", "code", "pass", "pw":
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// maskQuery masks the values of the query parameters in s whose names
// look like secrets.
func maskQuery(s string) string {
	for _, re := range queryParams {
		matches := re.FindAllStringSubmatchIndex(s, -1)
		if matches == nil {
			continue
		}
		var b strings.Builder
		last := 0
		for _, m := range matches {
			name, valueStart, valueEnd := s[m[4]:m[5]], m[6], m[7]
			if !SecretName(name) || valueStart == valueEnd || s[valueStart:valueEnd] == Mask {
				continue
			}
			b.WriteString(s[last:valueStart])
			b.WriteString(Mask)
			last = valueEnd
		}
		b.WriteString(s[last:])
		s = b.String()
	}
	return s
}

// userinfo matches the password part of scheme://user:password@host.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s"']*:)[^@\s"'/]*@`)

// libpqPassword matches password=... in key/value DSNs, where it starts
// the text or follows white space or a quote (in a URL's query, where it
// follows ? or &, maskQuery masks it up to the next &). A quoted value
// may hold \' and spaces.
var libpqPassword = regexp.MustCompile(`(?i)((?:^|[\s"'(])password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s"]*)`)

// Text removes query-string keys and the values of query parameters whose
// names look like secrets (see SecretName), URL passwords and key/value
// DSN passwords from s, then every literal secret given.
func Text(s string, secrets ...string) string {
	s = keyParam.ReplaceAllString(s, "${1}"+Mask)
	s = maskQuery(s)
	s = userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = libpqPassword.ReplaceAllString(s, "${1}"+Mask)
	for _, secret := range secrets {
		// Very short secrets would mask ordinary words; real keys and
		// passwords worth hiding are longer than this.
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, Mask)
		}
	}
	return s
}

// URL returns u as text with its password and the values of its query
// parameters whose names look like secrets replaced by Mask. The query is
// otherwise left as it was.
func URL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if _, has := c.User.Password(); has {
		c.User = url.UserPassword(c.User.Username(), Mask)
	}
	return Text(c.String())
}

// Secrets collects the literal secrets of one invocation so that every
// output path can mask them, whatever shape they arrive in.
type Secrets struct{ values []string }

// Add remembers secret values; empty ones are ignored.
func (s *Secrets) Add(values ...string) {
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v, url.QueryEscape(v))
		}
	}
}

// Text is Text(s) with the collected secrets.
func (s *Secrets) Text(text string) string {
	if s == nil {
		return Text(text)
	}
	return Text(text, s.values...)
}
