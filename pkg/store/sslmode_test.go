package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// An sslmode PostgreSQL does not know is a mistake in the URL (exit 2),
// found before any connection is tried.
func TestUnknownSSLModeIsABadURL(t *testing.T) {
	for _, mode := range []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"} {
		if _, err := store.ParseURL("postgres://me:pw@db.example.com/traffic?sslmode=" + mode); err != nil {
			t.Errorf("sslmode=%s: %v", mode, err)
		}
	}
	for _, mode := range []string{"bogus", "Require", "true", "verify_full"} {
		_, err := store.ParseURL("postgres://me:hunter2pw@db.example.com/traffic?sslmode=" + mode)
		if !errors.Is(err, store.ErrBadURL) || !strings.Contains(err.Error(), "disable, allow, prefer, require, verify-ca, verify-full") {
			t.Errorf("sslmode=%s: err = %v, want a bad URL listing the valid modes", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2pw") {
			t.Errorf("the password is shown: %v", err)
		}
	}
}
