package config

import (
	"errors"
	"strings"
	"testing"
)

// source.max_pages: 1000 by default, set like the other source keys, per
// feed too, and at least 1.
func TestMaxPagesDefaultsInheritsAndIsValidated(t *testing.T) {
	inDir(t)
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.MaxPages != 1000 || c.Feeds[0].MaxPages != 1000 {
		t.Fatalf("default max_pages %d (feed %d), want 1000", c.Source.MaxPages, c.Feeds[0].MaxPages)
	}

	write(t, "trafficctl.yaml", "source:\n  max_pages: 300\nfeeds:\n  a:\n    url: https://a.example/x\n  b:\n    url: https://b.example/x\n    max_pages: 20\n")
	c, err = Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.MaxPages != 300 || c.Feeds[0].MaxPages != 300 || c.Feeds[1].MaxPages != 20 {
		t.Fatalf("max_pages: source %d, a %d, b %d; want 300, 300 (inherited), 20", c.Source.MaxPages, c.Feeds[0].MaxPages, c.Feeds[1].MaxPages)
	}
	t.Setenv("TRAFFICCTL_FEEDS_A_MAX_PAGES", "7")
	if c, err = Load(Options{}); err != nil || c.Feeds[0].MaxPages != 7 {
		t.Fatalf("TRAFFICCTL_FEEDS_A_MAX_PAGES=7: %v, %+v", err, c)
	}

	for _, tt := range []struct{ yaml, want string }{
		{"source:\n  max_pages: 0\n", "source.max_pages must be at least 1"},
		{"feeds:\n  c:\n    url: https://c.example/x\n    max_pages: -1\n", "feeds.c.max_pages must be at least 1"},
		{"source:\n  max_pages: 2.5\n", "source.max_pages must be a whole number"},
	} {
		write(t, "trafficctl.yaml", tt.yaml)
		_, err := Load(Options{})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
