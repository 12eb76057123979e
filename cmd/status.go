package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// failureWindow is how far back status lists failed runs.
const failureWindow = 24 * time.Hour

// maxListedFailures caps the failures the human report lists; --json has
// them all. A day of failing every 10 minutes is 144 lines otherwise.
const maxListedFailures = 10

// StatusOptions are the inputs of trafficctl status.
type StatusOptions struct {
	IO          IOStreams
	Now         func() time.Time
	DatabaseURL string
	OpenStore   func(context.Context) (*store.Store, error)
	JSON        bool
	MaxAge      time.Duration // 0: no health check
}

// NewCmdStatus builds "trafficctl status".
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Report what was collected, the last successful run, recent failures and gaps",
		Long: `Report the database (password hidden), its schema version and pending migrations,
how many events, open events, versions and runs it holds, the last successful run
and how long ago it started, the failed runs of the last 24 hours with their
reasons, and the gaps: intervals between consecutive successful runs longer than
twice the median interval (and longer than a minute).

With --max-age the command is a health check: it exits with status 1 when the
last successful run started longer ago than that, or when there is none.
A database never migrated is reported as such (exit status 0 without --max-age);
status never creates or migrates a database.`,
		Example: `  trafficctl status
  trafficctl status --json
  trafficctl status --max-age 30m || echo "trafficctl: no fresh data" | mail -s trafficctl me@example.com`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.Now, opts.OpenStore = f.IO, f.Now, f.OpenStore
			opts.DatabaseURL = f.Config.Database.URL
			if opts.MaxAge < 0 {
				return usageError{fmt.Errorf("--max-age must not be negative")}
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runStatus(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print the report as one JSON object")
	c.Flags().DurationVar(&opts.MaxAge, "max-age", 0, "exit with status 1 if the last successful run started longer ago than this (e.g. 30m)")
	return c
}

func runStatus(ctx context.Context, opts *StatusOptions) error {
	now := opts.Now().UTC().Truncate(time.Second) // the ledger keeps whole seconds too
	var st store.Status
	missing := store.NotCreated(opts.DatabaseURL)
	if missing {
		t, err := store.ParseURL(opts.DatabaseURL)
		if err != nil {
			return err
		}
		st.Display, st.Pending = t.Display, store.MigrationIDs()
	} else {
		s, err := opts.OpenStore(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		if st, err = s.Status(ctx, now.Add(-failureWindow)); err != nil {
			return err
		}
	}
	rep := newStatusReport(st, now, opts.MaxAge)
	rep.Exists = !missing
	var err error
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.writeText(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	return rep.check(opts.MaxAge)
}

// statusReport is the status as printed: the JSON field names are part of
// the interface (monitors parse them), so they are spelled out here rather
// than derived from store types.
type statusReport struct {
	Database       string         `json:"database"`
	Exists         bool           `json:"database_exists"`
	Migrated       bool           `json:"migrated"`
	SchemaVersion  string         `json:"schema_version"`
	Pending        []string       `json:"pending_migrations"`
	Now            time.Time      `json:"now"`
	Events         int64          `json:"events"`
	OpenEvents     int64          `json:"open_events"`
	Versions       int64          `json:"versions"`
	Runs           int64          `json:"runs"`
	FailedRuns     int64          `json:"failed_runs"`
	LastSuccess    *runReport     `json:"last_success"`
	Failures       []runReport    `json:"failures_24h"`
	MedianInterval *float64       `json:"median_interval_seconds"`
	Gaps           []gapReport    `json:"gaps"`
	MaxAge         *float64       `json:"max_age_seconds,omitempty"`
	Healthy        *bool          `json:"healthy,omitempty"`
	age            *time.Duration // of the last success
	median         *time.Duration // of the successful runs' intervals
}

type runReport struct {
	RunID      int64     `json:"run_id"`
	StartedAt  time.Time `json:"started_at"`
	AgeSeconds float64   `json:"age_seconds"`
	Error      string    `json:"error,omitempty"`
}

type gapReport struct {
	AfterRunID    int64     `json:"after_run_id"`
	BeforeRunID   int64     `json:"before_run_id"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	LengthSeconds float64   `json:"length_seconds"`
}

func newStatusReport(st store.Status, now time.Time, maxAge time.Duration) *statusReport {
	r := &statusReport{
		Database: st.Display, Migrated: st.Migrated(), SchemaVersion: st.SchemaVersion(), Pending: st.Pending, Now: now,
		Events: st.Events, OpenEvents: st.OpenEvents, Versions: st.Versions, Runs: st.Runs, FailedRuns: st.FailedRuns,
		Failures: []runReport{}, Gaps: []gapReport{},
	}
	if r.Pending == nil {
		r.Pending = []string{}
	}
	if st.LastSuccess != nil {
		age := now.Sub(st.LastSuccess.StartedAt)
		r.age = &age
		r.LastSuccess = &runReport{RunID: st.LastSuccess.ID, StartedAt: st.LastSuccess.StartedAt.UTC(), AgeSeconds: age.Seconds()}
	}
	for _, f := range st.Failures {
		r.Failures = append(r.Failures, runReport{RunID: f.ID, StartedAt: f.StartedAt.UTC(), AgeSeconds: now.Sub(f.StartedAt).Seconds(), Error: f.Error})
	}
	if st.SuccessfulRuns >= 2 {
		m := st.MedianInterval
		r.median = &m
		secs := m.Seconds()
		r.MedianInterval = &secs
	}
	for _, g := range st.Gaps {
		r.Gaps = append(r.Gaps, gapReport{AfterRunID: g.AfterRunID, BeforeRunID: g.BeforeRunID, Start: g.Start.UTC(), End: g.End.UTC(), LengthSeconds: g.Length().Seconds()})
	}
	if maxAge > 0 {
		secs := maxAge.Seconds()
		healthy := r.age != nil && *r.age <= maxAge
		r.MaxAge, r.Healthy = &secs, &healthy
	}
	return r
}

// check is the --max-age health check.
func (r *statusReport) check(maxAge time.Duration) error {
	switch {
	case maxAge == 0:
		return nil
	case r.age == nil:
		return fmt.Errorf("no fetch has succeeded on %s yet, so it fails --max-age %s", r.Database, shortDuration(maxAge))
	case *r.age > maxAge:
		return fmt.Errorf("the last successful run (run %d) started %s ago, longer than --max-age %s", r.LastSuccess.RunID, shortDuration(*r.age), shortDuration(maxAge))
	}
	return nil
}

func (r *statusReport) writeText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-14s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("database:", "%s", r.Database)
	if !r.Migrated {
		if !r.Exists {
			line("schema:", "none: the database file does not exist (status does not create it)")
		} else {
			line("schema:", "none: this database was never migrated (pending: %s)", strings.Join(r.Pending, ", "))
		}
		b.WriteString("\nNothing has been collected here yet: run trafficctl fetch (it migrates first) or trafficctl migrate.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.Pending) == 0 {
		line("schema:", "%s (up to date)", r.SchemaVersion)
	} else {
		line("schema:", "%s; %d pending: %s (run trafficctl migrate)", r.SchemaVersion, len(r.Pending), strings.Join(r.Pending, ", "))
	}
	line("events:", "%d (%d open)", r.Events, r.OpenEvents)
	line("versions:", "%d", r.Versions)
	line("runs:", "%d (%d succeeded, %d failed)", r.Runs, r.Runs-r.FailedRuns, r.FailedRuns)
	if r.LastSuccess == nil {
		line("last success:", "none yet")
	} else {
		line("last success:", "run %d at %s, %s ago", r.LastSuccess.RunID, r.LastSuccess.StartedAt.Format(time.RFC3339), shortDuration(*r.age))
	}
	if r.MaxAge != nil {
		verdict := "ok"
		if !*r.Healthy {
			verdict = "STALE"
		}
		line("max age:", "%s: %s", shortDuration(time.Duration(*r.MaxAge*float64(time.Second))), verdict)
	}
	if len(r.Failures) == 0 {
		line("failures 24h:", "none")
	} else {
		line("failures 24h:", "%d", len(r.Failures))
		for i, f := range r.Failures {
			if i == maxListedFailures {
				fmt.Fprintf(&b, "%-14s ... and %d more (trafficctl status --json lists them all)\n", "", len(r.Failures)-i)
				break
			}
			fmt.Fprintf(&b, "%-14s run %d at %s: %s\n", "", f.RunID, f.StartedAt.Format(time.RFC3339), f.Error)
		}
	}
	switch {
	case r.median == nil:
		line("gaps:", "too few successful runs to tell")
	case len(r.Gaps) == 0:
		line("gaps:", "none (median interval %s)", shortDuration(*r.median))
	default:
		line("gaps:", "%d longer than twice the median interval of %s", len(r.Gaps), shortDuration(*r.median))
		for _, g := range r.Gaps {
			fmt.Fprintf(&b, "%-14s %s to %s (%s, after run %d)\n", "", g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339),
				shortDuration(time.Duration(g.LengthSeconds*float64(time.Second))), g.AfterRunID)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortDuration prints a duration to the second without the zero units
// time.Duration.String pads with: "2h", "1h30m", "10m", "45s".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
