package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/config"
	"github.com/trafficctl/trafficctl/pkg/redact"
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
	Feeds       []config.Feed // the configured feeds
	Names       []string      // the feeds to report; empty means all
	// ConfiguredFeeds are the names of the configured feeds: with the
	// database's, what FEED may name.
	ConfiguredFeeds []string
	OpenStore       func(context.Context) (*store.Store, error)
	JSON            bool
	MaxAge          time.Duration // 0: no health check
}

// NewCmdStatus builds "trafficctl status".
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{}
	c := &cobra.Command{
		Use:   "status [FEED...]",
		Short: "Report what was collected, each feed's last successful run, recent failures and gaps",
		Long: `Report the database (password hidden), its schema version and pending migrations,
and how many events, open events, versions and runs it holds; then for each feed
(or only those named): its format and URL, how much it holds, its last successful
run and how long ago it started, its failed runs of the last 24 hours with their
reasons, and its gaps: intervals between consecutive successful runs longer than
twice the median interval (and longer than a minute).

With --max-age the command is a health check: it exits with status 1 when any
feed's last successful run started longer ago than that, or when a feed has none.
A database never migrated is reported as such (exit status 0 without --max-age);
status never creates or migrates a database.`,
		Example: `  trafficctl status
  trafficctl status --json
  trafficctl status bayarea
  trafficctl status --max-age 30m || echo "trafficctl: no fresh data" | mail -s trafficctl me@example.com`,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.Now, opts.OpenStore = f.IO, f.Now, f.OpenStoreForReading
			opts.DatabaseURL, opts.Feeds, opts.ConfiguredFeeds, opts.Names = f.Config.Database.URL, f.Config.Feeds, f.Config.FeedNames(), args
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
	c.Flags().DurationVar(&opts.MaxAge, "max-age", 0, "exit with status 1 if any feed's last successful run started longer ago than this (e.g. 30m)")
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
	rep, err := newStatusReport(st, opts.Feeds, opts.ConfiguredFeeds, opts.Names, now, opts.MaxAge)
	if err != nil {
		return err
	}
	rep.Exists = !missing
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
// than derived from store types. The totals come first, then each feed.
type statusReport struct {
	Database      string    `json:"database"`
	Exists        bool      `json:"database_exists"`
	Migrated      bool      `json:"migrated"`
	SchemaVersion string    `json:"schema_version"`
	Pending       []string  `json:"pending_migrations"`
	Now           time.Time `json:"now"`
	// The totals; and, as before feeds, the newest success, the failures
	// and the gaps of every feed reported (each names its feed), and the
	// median interval when one feed is reported.
	ledgerReport
	Feeds   []feedReport `json:"feeds"`
	MaxAge  *float64     `json:"max_age_seconds,omitempty"`
	Healthy *bool        `json:"healthy,omitempty"`
	Stale   []string     `json:"stale_feeds,omitempty"` // with --max-age: the feeds that fail it
}

// ledgerReport is what the report says of a ledger: the whole database's,
// or one feed's.
type ledgerReport struct {
	Events         int64       `json:"events"`
	OpenEvents     int64       `json:"open_events"`
	Versions       int64       `json:"versions"`
	Runs           int64       `json:"runs"`
	FailedRuns     int64       `json:"failed_runs"`
	LastSuccess    *runReport  `json:"last_success"`
	Failures       []runReport `json:"failures_24h"`
	MedianInterval *float64    `json:"median_interval_seconds"`
	Gaps           []gapReport `json:"gaps"`
}

// feedReport is one feed's part of the report.
type feedReport struct {
	Name       string `json:"name"`
	Format     string `json:"format"`
	URL        string `json:"url"`
	Configured bool   `json:"configured"`
	ledgerReport
	Healthy *bool          `json:"healthy,omitempty"`
	age     *time.Duration // of the last success
	median  *time.Duration // of the successful runs' intervals
}

type runReport struct {
	Feed       string    `json:"feed"`
	RunID      int64     `json:"run_id"`
	StartedAt  time.Time `json:"started_at"`
	AgeSeconds float64   `json:"age_seconds"`
	Error      string    `json:"error,omitempty"`
}

type gapReport struct {
	Feed          string    `json:"feed"`
	AfterRunID    int64     `json:"after_run_id"`
	BeforeRunID   int64     `json:"before_run_id"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	LengthSeconds float64   `json:"length_seconds"`
}

// newStatusReport reports the configured feeds and any other feed the
// database holds runs of, or only the feeds named.
func newStatusReport(st store.Status, feeds []config.Feed, configured, names []string, now time.Time, maxAge time.Duration) (*statusReport, error) {
	r := &statusReport{
		Database: st.Display, Migrated: st.Migrated(), SchemaVersion: st.SchemaVersion(), Pending: st.Pending, Now: now,
		ledgerReport: ledgerReport{
			Events: st.Events, OpenEvents: st.OpenEvents, Versions: st.Versions, Runs: st.Runs, FailedRuns: st.FailedRuns,
			Failures: []runReport{}, Gaps: []gapReport{},
		},
		Feeds: []feedReport{},
	}
	if r.Pending == nil {
		r.Pending = []string{}
	}
	var stored []string
	for _, f := range st.Feeds {
		stored = append(stored, f.Feed)
	}
	all, err := knownFeeds(names, configured, stored)
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		all = slices.DeleteFunc(all, func(n string) bool { return !slices.Contains(names, n) })
	}
	for _, name := range all {
		fs, _ := st.Feed(name)
		fr := feedReport{Name: name, ledgerReport: ledgerReport{
			Events: fs.Events, OpenEvents: fs.OpenEvents, Versions: fs.Versions, Runs: fs.Runs, FailedRuns: fs.FailedRuns,
			Failures: []runReport{}, Gaps: []gapReport{},
		}}
		for _, f := range feeds {
			if f.Name == name {
				fr.Configured, fr.Format = true, f.Format
				if u, err := url.Parse(f.URL); err == nil {
					fr.URL = redact.URL(u)
				}
			}
		}
		if fs.LastSuccess != nil {
			age := now.Sub(fs.LastSuccess.StartedAt)
			fr.age = &age
			fr.LastSuccess = &runReport{Feed: name, RunID: fs.LastSuccess.ID, StartedAt: fs.LastSuccess.StartedAt.UTC(), AgeSeconds: age.Seconds()}
			if fr.URL == "" {
				fr.URL = fs.LastSuccess.SourceURL
			}
		}
		for _, f := range fs.Failures {
			fr.Failures = append(fr.Failures, runReport{Feed: name, RunID: f.ID, StartedAt: f.StartedAt.UTC(), AgeSeconds: now.Sub(f.StartedAt).Seconds(), Error: f.Error})
		}
		if fs.SuccessfulRuns >= 2 {
			m := fs.MedianInterval
			fr.median = &m
			secs := m.Seconds()
			fr.MedianInterval = &secs
		}
		for _, g := range fs.Gaps {
			fr.Gaps = append(fr.Gaps, gapReport{Feed: name, AfterRunID: g.AfterRunID, BeforeRunID: g.BeforeRunID, Start: g.Start.UTC(), End: g.End.UTC(), LengthSeconds: g.Length().Seconds()})
		}
		if maxAge > 0 && fr.Configured {
			healthy := fr.age != nil && *fr.age <= maxAge
			fr.Healthy = &healthy
			if !healthy {
				r.Stale = append(r.Stale, name)
			}
		}
		r.Feeds = append(r.Feeds, fr)
		if fr.LastSuccess != nil && (r.LastSuccess == nil || fr.LastSuccess.RunID > r.LastSuccess.RunID) {
			r.LastSuccess = fr.LastSuccess
		}
		r.Failures = append(r.Failures, fr.Failures...)
		r.Gaps = append(r.Gaps, fr.Gaps...)
	}
	slices.SortFunc(r.Failures, func(a, b runReport) int { return int(b.RunID - a.RunID) })
	slices.SortFunc(r.Gaps, func(a, b gapReport) int { return a.Start.Compare(b.Start) })
	if len(r.Feeds) == 1 {
		r.MedianInterval = r.Feeds[0].MedianInterval
	}
	if maxAge > 0 {
		secs := maxAge.Seconds()
		healthy := len(r.Stale) == 0
		r.MaxAge, r.Healthy = &secs, &healthy
	}
	return r, nil
}

// check is the --max-age health check: every configured feed reported
// must have succeeded within maxAge.
func (r *statusReport) check(maxAge time.Duration) error {
	if maxAge == 0 || len(r.Stale) == 0 {
		return nil
	}
	var why []string
	for _, f := range r.Feeds {
		if f.Healthy == nil || *f.Healthy {
			continue
		}
		if f.age == nil {
			why = append(why, fmt.Sprintf("no fetch of feed %s has succeeded yet", f.Name))
		} else {
			why = append(why, fmt.Sprintf("feed %s's last successful run (run %d) started %s ago", f.Name, f.LastSuccess.RunID, shortDuration(*f.age)))
		}
	}
	return fmt.Errorf("%s on %s, so it fails --max-age %s", strings.Join(why, "; "), r.Database, shortDuration(maxAge))
}

func (r *statusReport) writeText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-16s %s\n", label, fmt.Sprintf(format, args...))
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
	if r.MaxAge != nil {
		verdict := "ok"
		if !*r.Healthy {
			verdict = "STALE: " + strings.Join(r.Stale, ", ")
		}
		line("max age:", "%s: %s", shortDuration(time.Duration(*r.MaxAge*float64(time.Second))), verdict)
	}
	for _, f := range r.Feeds {
		b.WriteString("\n")
		switch {
		case f.Configured:
			line("feed "+f.Name+":", "%s %s", f.Format, f.URL)
		default:
			line("feed "+f.Name+":", "not configured (runs in the database from %s)", f.URL)
		}
		line("  events:", "%d (%d open), %d versions", f.Events, f.OpenEvents, f.Versions)
		line("  runs:", "%d (%d succeeded, %d failed)", f.Runs, f.Runs-f.FailedRuns, f.FailedRuns)
		if f.LastSuccess == nil {
			line("  last success:", "none yet")
		} else {
			line("  last success:", "run %d at %s, %s ago", f.LastSuccess.RunID, f.LastSuccess.StartedAt.Format(time.RFC3339), shortDuration(*f.age))
		}
		if len(f.Failures) == 0 {
			line("  failures 24h:", "none")
		} else {
			line("  failures 24h:", "%d", len(f.Failures))
			for i, fail := range f.Failures {
				if i == maxListedFailures {
					fmt.Fprintf(&b, "%-16s ... and %d more (trafficctl status --json lists them all)\n", "", len(f.Failures)-i)
					break
				}
				fmt.Fprintf(&b, "%-16s run %d at %s: %s\n", "", fail.RunID, fail.StartedAt.Format(time.RFC3339), fail.Error)
			}
		}
		switch {
		case f.median == nil:
			line("  gaps:", "too few successful runs to tell")
		case len(f.Gaps) == 0:
			line("  gaps:", "none (median interval %s)", shortDuration(*f.median))
		default:
			line("  gaps:", "%d longer than twice the median interval of %s", len(f.Gaps), shortDuration(*f.median))
			for _, g := range f.Gaps {
				fmt.Fprintf(&b, "%-16s %s to %s (%s, after run %d)\n", "", g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339),
					shortDuration(time.Duration(g.LengthSeconds*float64(time.Second))), g.AfterRunID)
			}
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
