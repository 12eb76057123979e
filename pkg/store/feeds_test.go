package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// TestFeedNamesIncludeFailedOnes: a feed whose only run failed is among the
// feeds, read from the ledger before 0005 and from its summary after it
// (filled by the migration, then kept by its trigger).
func TestFeedNamesIncludeFailedOnes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		fail := func(feed string) {
			t.Helper()
			if _, err := s.RecordFailedRun(ctx, store.RunInfo{Feed: feed, StartedAt: at}, "HTTP 503", at); err != nil {
				t.Fatal(err)
			}
		}
		check := func(want ...string) {
			t.Helper()
			got, err := s.FeedNames(ctx)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("FeedNames = %q, %v; want %q", got, err, want)
			}
		}
		if _, err := s.MigrateTo(ctx, "0004_content_in_spells"); err != nil { // the schema before 0005
			t.Fatal(err)
		}
		fail("b")
		check("b")
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check("b")
		fail("a")
		check("a", "b")
	})
}
