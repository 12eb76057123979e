package store_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// twoFeeds is Gappy's ledger for feed a, and for feed b runs whose six
// eight intervals have a median between two lengths (10 and 15 minutes:
// 12m30s),
// one interval of exactly twice that (not a gap) and one longer, with
// failures among them.
func twoFeeds() []ledgertest.Run {
	runs := ledgertest.Gappy().Runs
	for i := range runs {
		runs[i].Feed = "a"
	}
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	events := []string{"511/events_page1.json"}
	for _, m := range []int{0, 10, 20, 30, 40, 55, 70, 95, 121} {
		runs = append(runs, ledgertest.Run{Feed: "b", At: day.Add(time.Duration(m) * time.Minute), Fixtures: events})
		if m == 40 {
			runs = append(runs, ledgertest.Run{Feed: "b", At: day.Add(41 * time.Minute), Fail: "503"})
		}
	}
	slices.SortStableFunc(runs, func(x, y ledgertest.Run) int { return x.At.Compare(y.At) })
	return runs
}

// fromLedger is what status must say of each feed's runs, computed from
// the whole ledger as status did before the ledger had a summary.
func fromLedger(t *testing.T, s *store.Store) map[string]store.FeedStatus {
	t.Helper()
	want := map[string]store.FeedStatus{}
	succeeded := map[string][]store.RunStart{}
	err := s.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error {
		f := want[r.Feed]
		f.Feed = r.Feed
		f.Runs++
		if r.Status == store.RunFailed {
			f.FailedRuns++
		} else {
			succeeded[r.Feed] = append(succeeded[r.Feed], store.RunStart{ID: r.ID, Feed: r.Feed, Started: r.StartedAt})
			last := *r
			f.LastSuccess = &last
		}
		want[r.Feed] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for feed, runs := range succeeded {
		f := want[feed]
		f.SuccessfulRuns = len(runs)
		f.MedianInterval, f.Gaps = store.FindGaps(runs)
		want[feed] = f
	}
	return want
}

// checkLedger compares status's runs, last success, median and gaps of
// each feed with fromLedger's.
func checkLedger(t *testing.T, s *store.Store, st store.Status) {
	t.Helper()
	want := fromLedger(t, s)
	if len(want) != 2 || len(st.Feeds) != len(want) {
		t.Fatalf("feeds %d in status, %d in the ledger, want 2", len(st.Feeds), len(want))
	}
	for _, got := range st.Feeds {
		w := want[got.Feed]
		if got.Runs != w.Runs || got.FailedRuns != w.FailedRuns || got.SuccessfulRuns != w.SuccessfulRuns ||
			got.LastSuccess == nil || !reflect.DeepEqual(*got.LastSuccess, *w.LastSuccess) {
			t.Errorf("feed %s: runs %d, failed %d, successful %d, last %+v; the ledger says %d, %d, %d, %+v", got.Feed,
				got.Runs, got.FailedRuns, got.SuccessfulRuns, got.LastSuccess, w.Runs, w.FailedRuns, w.SuccessfulRuns, w.LastSuccess)
		}
		if got.MedianInterval != w.MedianInterval || !reflect.DeepEqual(got.Gaps, w.Gaps) || len(w.Gaps) == 0 {
			t.Errorf("feed %s: median %v, gaps %+v; the ledger says %v, %+v", got.Feed, got.MedianInterval, got.Gaps, w.MedianInterval, w.Gaps)
		}
	}
}

// exports is what the runs, counts and lifetimes exports give, whole and
// from a time on, as text.
func exports(t *testing.T, s *store.Store) string {
	t.Helper()
	var b strings.Builder
	line := func(kind string, row any) error {
		text, err := json.Marshal(row)
		fmt.Fprintf(&b, "%s %s\n", kind, text)
		return err
	}
	// From 12:25 the first run (12:30) closes an event that the run before
	// the window (10:30) listed.
	from, closing := time.Date(2026, 11, 1, 10, 25, 0, 0, time.UTC), time.Date(2026, 11, 1, 12, 25, 0, 0, time.UTC)
	for _, f := range []store.Filter{{}, {Since: from}, {Since: from, Until: from.Add(time.Hour)}, {Since: from, Feeds: []string{"b"}}, {Since: closing}} {
		line("filter", f)
		err := s.Runs(ctx, f, func(r *store.FetchRun) error { return line("run", r) })
		if err == nil {
			err = s.Lifetimes(ctx, f, func(l *store.Lifetime) error { return line("lifetime", l) })
		}
		for _, q := range []store.Series{{Every: 10 * time.Minute}, {Every: time.Hour, By: store.BySeverity}} {
			if err == nil {
				err = s.IntervalCounts(ctx, f, q, func(c *store.IntervalCount) error { return line("count", c) })
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if strings.Count(b.String(), "lifetime") < 10 || strings.Count(b.String(), "count") < 20 {
		t.Fatalf("too few rows to compare:\n%s", b.String())
	}
	return b.String()
}

// TestLedgerSummaryAgreesWithTheLedger: status read from the summary kept
// by 0005_ledger_index says what the whole ledger says, when the summary
// was kept run by run and when the migration filled it in from a ledger an
// older schema had; after the upgrade the report, and the runs, counts and
// lifetimes exports (read from the summary then), are the same as before it.
func TestLedgerSummaryAgreesWithTheLedger(t *testing.T) {
	t.Parallel()
	runs := twoFeeds()
	since := ledgertest.Gappy().Now.Add(-24 * time.Hour)
	t.Run("kept", func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, dbURL string) {
			s, err := store.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ledgertest.Seed(t, s, runs)
			st, err := s.Status(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			checkLedger(t, s, st)
		})
	})
	t.Run("filled", func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, dbURL string) {
			s, err := store.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.MigrateTo(ctx, "0004_content_in_spells"); err != nil { // the schema before 0005
				t.Fatal(err)
			}
			// This build writes 0006's columns too: added by hand, 0005
			// is what this test upgrades.
			for _, c := range []string{"category", "impact", "road", "direction"} {
				if err := s.DB().Exec("ALTER TABLE event_versions ADD COLUMN " + c + " TEXT NOT NULL DEFAULT ''").Error; err != nil {
					t.Fatal(err)
				}
			}
			half := len(runs) / 2
			ledgertest.Record(t, s, runs[:half])
			before, err := s.Status(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			exportsBefore := exports(t, s)
			if _, err := s.MigrateTo(ctx, "0005_ledger_index"); err != nil {
				t.Fatal(err)
			}
			after, err := s.Status(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			if got := exports(t, s); got != exportsBefore {
				t.Errorf("exports after the upgrade:\n%s\nbefore it:\n%s", got, exportsBefore)
			}
			before.Applied, before.Pending, after.Applied, after.Pending = nil, nil, nil, nil
			if !reflect.DeepEqual(after, before) {
				t.Errorf("status after the upgrade\n%+v\nbefore it\n%+v", after, before)
			}
			ledgertest.Record(t, s, runs[half:])
			st, err := s.Status(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			checkLedger(t, s, st)
		})
	})
}
