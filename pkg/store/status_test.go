package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

func TestFindGapsUsesTwiceTheMedian(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	runsAt := func(minutes ...int) []store.RunStart {
		out := make([]store.RunStart, len(minutes))
		for i, m := range minutes {
			out[i] = store.RunStart{ID: int64(i + 1), Started: t0.Add(time.Duration(m) * time.Minute)}
		}
		return out
	}
	runsSecondsApart := func(seconds ...int) []store.RunStart {
		out := make([]store.RunStart, len(seconds))
		for i, sec := range seconds {
			out[i] = store.RunStart{ID: int64(i + 1), Started: t0.Add(time.Duration(sec) * time.Second)}
		}
		return out
	}
	gap := func(after, before int64, from, to int) store.Gap {
		return store.Gap{AfterRunID: after, BeforeRunID: before, Start: t0.Add(time.Duration(from) * time.Minute), End: t0.Add(time.Duration(to) * time.Minute)}
	}
	tests := []struct {
		name   string
		runs   []store.RunStart
		median time.Duration
		gaps   []store.Gap
	}{
		{"no runs", nil, 0, nil},
		{"one run", runsAt(0), 0, nil},
		{"two runs: the one interval is the median", runsAt(0, 60), time.Hour, nil},
		{"regular", runsAt(0, 10, 20, 30), 10 * time.Minute, nil},
		{"exactly twice the median is not a gap", runsAt(0, 10, 20, 40, 50), 10 * time.Minute, nil},
		{"one long hole", runsAt(0, 10, 20, 140, 150), 10 * time.Minute, []store.Gap{gap(3, 4, 20, 140)}},
		{"even count: mean of the middle two", runsAt(0, 10, 30, 60, 100), 25 * time.Minute, nil},
		{"runs seconds apart: a pause under a minute is no gap", runsSecondsApart(0, 0, 0, 0, 59), 0, nil},
		{"two holes", runsAt(0, 10, 31, 41, 51, 120), 10 * time.Minute, []store.Gap{gap(2, 3, 10, 31), gap(5, 6, 51, 120)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			median, gaps := store.FindGaps(tt.runs)
			if median != tt.median {
				t.Errorf("median %v, want %v", median, tt.median)
			}
			if !reflect.DeepEqual(gaps, tt.gaps) {
				t.Errorf("gaps %+v, want %+v", gaps, tt.gaps)
			}
		})
	}
}

func TestStatusReportsCountsFailuresAndGaps(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sc := ledgertest.Gappy()
		ledgertest.Seed(t, s, sc.Runs)

		st, err := s.Status(ctx, sc.Now.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Migrated() || st.SchemaVersion() != store.MigrationIDs()[len(store.MigrationIDs())-1] || len(st.Pending) != 0 {
			t.Errorf("schema: applied %v, pending %v", st.Applied, st.Pending)
		}
		got := []int64{st.Events, st.OpenEvents, st.Versions, st.Runs, st.FailedRuns}
		want := []int64{sc.Events, sc.OpenEvents, sc.Versions, sc.AllRuns, sc.FailedRuns}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events, open, versions, runs, failed = %v, want %v", got, want)
		}
		fs, ok := st.Feed(store.DefaultFeed)
		if len(st.Feeds) != 1 || !ok {
			t.Fatalf("feeds %+v, want only %s", st.Feeds, store.DefaultFeed)
		}
		if got := []int64{fs.Events, fs.OpenEvents, fs.Versions, fs.Runs, fs.FailedRuns}; !reflect.DeepEqual(got, want) {
			t.Errorf("the feed's events, open, versions, runs, failed = %v, want %v", got, want)
		}
		if fs.LastSuccess == nil || fs.LastSuccess.ID != sc.LastSuccessID || sc.Now.Sub(fs.LastSuccess.StartedAt) != sc.LastSuccessAge {
			t.Errorf("last success %+v, want run %d %v before %v", fs.LastSuccess, sc.LastSuccessID, sc.LastSuccessAge, sc.Now)
		}
		var reasons []string
		for _, f := range fs.Failures {
			reasons = append(reasons, f.Error)
		}
		if !reflect.DeepEqual(reasons, sc.FailuresIn24h) {
			t.Errorf("failures in 24h %q, want %q", reasons, sc.FailuresIn24h)
		}
		if fs.MedianInterval != sc.Median {
			t.Errorf("median %v, want %v", fs.MedianInterval, sc.Median)
		}
		if !reflect.DeepEqual(fs.Gaps, sc.Gaps) {
			t.Errorf("gaps %+v, want %+v", fs.Gaps, sc.Gaps)
		}
	})
}

func TestStatusOfANeverMigratedDatabase(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := s.Status(ctx, time.Now())
		if err != nil {
			t.Fatalf("status of an empty database: %v", err)
		}
		if st.Migrated() || !reflect.DeepEqual(st.Pending, store.MigrationIDs()) || len(st.Feeds) != 0 {
			t.Errorf("got migrated=%v pending=%v feeds=%v, want not migrated with every migration pending", st.Migrated(), st.Pending, st.Feeds)
		}
	})
}

func TestNotCreatedOnlyForMissingSQLiteFiles(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.SQLite(t)
	if !store.NotCreated(dbURL) {
		t.Errorf("NotCreated(%s) = false before the file exists", dbURL)
	}
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if store.NotCreated(dbURL) {
		t.Errorf("NotCreated(%s) = true after opening it", dbURL)
	}
	if store.NotCreated("postgres://u@db.example.com/x") {
		t.Error("NotCreated is true for a PostgreSQL URL")
	}
}
