package cmd

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/ledgertest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

func seededGappy(t *testing.T, dbURL string) (ledgertest.Scenario, string) {
	t.Helper()
	s, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sc := ledgertest.Gappy()
	ledgertest.Seed(t, s, sc.Runs)
	return sc, s.Display()
}

func TestStatusReportsTheSeededLedger(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		sc, display := seededGappy(t, dbURL)
		code, out, errOut := run(t, sc.Now, "status", "--database-url", dbURL)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		for _, want := range []string{
			`(?m)^database: +` + regexp.QuoteMeta(display) + `$`,
			`(?m)^schema: +0006_vocabulary \(up to date\)$`,
			`(?m)^events: +9 \(8 open\)$`,
			`(?m)^versions: +10$`,
			`(?m)^runs: +13 \(10 succeeded, 3 failed\)$`,
			`(?m)^  last success: +run 13 at 2026-11-01T13:45:00Z, 15m ago$`,
			`(?m)^  failures 24h: +2$`,
			`(?m)^ +run 7 at 2026-11-01T11:50:00Z: API key refused \(401 Unauthorized\): set TRAFFICCTL_API_KEY$`,
			`(?m)^ +run 6 at 2026-11-01T10:40:00Z: fetch page 1 of http://feed.test/traffic/events: 503 Service Unavailable$`,
			`(?m)^  gaps: +2 longer than twice the median interval of 10m$`,
			`(?m)^ +2026-11-01T10:30:00Z to 2026-11-01T12:30:00Z \(2h, after run 5\)$`,
			`(?m)^ +2026-11-01T13:00:00Z to 2026-11-01T13:25:00Z \(25m, after run 10\)$`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("stdout does not match %s:\n%s", want, out)
			}
		}
		if strings.Contains(out, "500 Internal Server Error") {
			t.Errorf("a failure older than 24 hours is listed:\n%s", out)
		}
	})
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		sc, display := seededGappy(t, dbURL)
		code, out, errOut := run(t, sc.Now, "status", "--json", "--max-age", "30m", "--database-url", dbURL)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		var got struct {
			Database       string   `json:"database"`
			Migrated       bool     `json:"migrated"`
			SchemaVersion  string   `json:"schema_version"`
			Pending        []string `json:"pending_migrations"`
			Events         int64    `json:"events"`
			OpenEvents     int64    `json:"open_events"`
			Versions       int64    `json:"versions"`
			Runs           int64    `json:"runs"`
			FailedRuns     int64    `json:"failed_runs"`
			MedianInterval float64  `json:"median_interval_seconds"`
			Healthy        bool     `json:"healthy"`
			LastSuccess    struct {
				RunID      int64     `json:"run_id"`
				StartedAt  time.Time `json:"started_at"`
				AgeSeconds float64   `json:"age_seconds"`
			} `json:"last_success"`
			Failures []struct {
				RunID int64  `json:"run_id"`
				Error string `json:"error"`
			} `json:"failures_24h"`
			Gaps []struct {
				AfterRunID    int64     `json:"after_run_id"`
				BeforeRunID   int64     `json:"before_run_id"`
				Start         time.Time `json:"start"`
				End           time.Time `json:"end"`
				LengthSeconds float64   `json:"length_seconds"`
			} `json:"gaps"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
		}
		if got.Database != display || !got.Migrated || got.SchemaVersion != "0006_vocabulary" || len(got.Pending) != 0 {
			t.Errorf("database/schema: %+v", got)
		}
		if got.Events != sc.Events || got.OpenEvents != sc.OpenEvents || got.Versions != sc.Versions || got.Runs != sc.AllRuns || got.FailedRuns != sc.FailedRuns {
			t.Errorf("counts: %+v", got)
		}
		if got.LastSuccess.RunID != sc.LastSuccessID || got.LastSuccess.AgeSeconds != sc.LastSuccessAge.Seconds() || !got.Healthy {
			t.Errorf("last success %+v healthy %v", got.LastSuccess, got.Healthy)
		}
		if len(got.Failures) != 2 || got.Failures[0].RunID != 7 || got.Failures[1].Error != sc.FailuresIn24h[1] {
			t.Errorf("failures %+v", got.Failures)
		}
		if got.MedianInterval != sc.Median.Seconds() || len(got.Gaps) != len(sc.Gaps) {
			t.Fatalf("median %v, gaps %+v", got.MedianInterval, got.Gaps)
		}
		for i, g := range got.Gaps {
			w := sc.Gaps[i]
			if g.AfterRunID != w.AfterRunID || g.BeforeRunID != w.BeforeRunID || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.LengthSeconds != w.Length().Seconds() {
				t.Errorf("gap %d: %+v, want %+v", i, g, w)
			}
		}
	})
}

func TestStatusMaxAgeExitStatus(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		sc, _ := seededGappy(t, dbURL) // the last success is 15 minutes old
		tests := []struct {
			maxAge string
			code   int
			stderr string
		}{
			{"30m", ExitOK, ""},
			{"15m", ExitOK, ""}, // not older than: exactly the limit is fresh
			{"14m59s", ExitFailed, "trafficctl: feed default's last successful run (run 13) started 15m ago on " + dbDisplay(dbURL) + ", so it fails --max-age 14m59s\n"},
			{"10m", ExitFailed, "trafficctl: feed default's last successful run (run 13) started 15m ago on " + dbDisplay(dbURL) + ", so it fails --max-age 10m\n"},
			{"-5m", ExitUsage, "trafficctl: --max-age must not be negative\n"},
			{"soon", ExitUsage, ""},
		}
		for _, tt := range tests {
			code, out, errOut := run(t, sc.Now, "status", "--max-age", tt.maxAge, "--database-url", dbURL)
			if code != tt.code {
				t.Errorf("--max-age %s: exit %d, want %d (stderr %q)", tt.maxAge, code, tt.code, errOut)
			}
			if tt.stderr != "" && errOut != tt.stderr {
				t.Errorf("--max-age %s: stderr %q, want %q", tt.maxAge, errOut, tt.stderr)
			}
			if tt.code == ExitFailed && !strings.Contains(out, "max age:") {
				t.Errorf("--max-age %s: a stale database still prints its report, got:\n%s", tt.maxAge, out)
			}
		}
	})
}

func TestStatusOfAMissingSQLiteFileDoesNotCreateIt(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.SQLite(t)
	code, out, errOut := run(t, time.Now(), "status", "--database-url", dbURL)
	if code != ExitOK || errOut != "" || !strings.Contains(out, "the database file does not exist") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !store.NotCreated(dbURL) {
		t.Errorf("status created %s", dbURL)
	}
	code, _, errOut = run(t, time.Now(), "status", "--max-age", "1h", "--database-url", dbURL)
	if code != ExitFailed || !strings.Contains(errOut, "no fetch of feed default has succeeded yet on ") {
		t.Errorf("--max-age on a missing file: exit %d, stderr %q", code, errOut)
	}
}

// dbDisplay is the database URL as trafficctl prints it.
func dbDisplay(dbURL string) string {
	t, err := store.ParseURL(dbURL)
	if err != nil {
		panic(err)
	}
	return t.Display
}
