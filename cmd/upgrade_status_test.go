package cmd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestUpgradeKeepsStatusOutput: on the release fixture databases as the
// previous release left them (schema 0003_views: release-0001.db migrated
// so far, daf2146.db as that release wrote it, three feeds), status prints
// the same text and JSON before and after this release migrates them, but
// for the schema version.
func TestUpgradeKeepsStatusOutput(t *testing.T) {
	t.Parallel()
	for _, fixture := range []string{"release-0001.db", "daf2146.db"} {
		t.Run(fixture, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), fixture)
			body, err := os.ReadFile("../testdata/upgrade/" + fixture)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			dbURL := "sqlite:///" + path
			s, err := store.Open(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.MigrateTo(context.Background(), "0003_views"); err != nil {
				t.Fatal(err)
			}
			s.Close()
			now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			schema := regexp.MustCompile(`(?m)^schema: .*$|"schema_version": "[^"]*"|"pending_migrations": \[[^\]]*\]`)
			status := func(args ...string) string {
				code, out, errOut := run(t, now, append([]string{"status", "--database-url", dbURL}, args...)...)
				if code != 0 {
					t.Fatalf("status %v: exit %d: %s", args, code, errOut)
				}
				return schema.ReplaceAllString(out, "<schema>")
			}
			text, json := status(), status("--json")
			if !strings.Contains(text, "runs:") {
				t.Fatalf("status reports no runs:\n%s", text)
			}
			if code, _, errOut := run(t, now, "migrate", "--database-url", dbURL); code != 0 {
				t.Fatalf("migrate: exit %d: %s", code, errOut)
			}
			if after := status(); after != text {
				t.Errorf("status after the upgrade:\n%s\nbefore:\n%s", after, text)
			}
			if after := status("--json"); after != json {
				t.Errorf("status --json after the upgrade:\n%s\nbefore:\n%s", after, json)
			}
		})
	}
}
