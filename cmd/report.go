package cmd

import (
	"context"
	"fmt"
	"io"
	"time"
	_ "time/tzdata" // --tz works on hosts and images without a zone database

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/report"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// ReportOptions are the inputs of trafficctl report.
type ReportOptions struct {
	IO        IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time
	Output    string // "-" for stdout
	Report    report.Options

	// DatabaseURL is the configured database: a SQLite file that does not
	// exist is reported, not created.
	DatabaseURL string
	// ConfiguredFeeds are the names of the configured feeds: with the
	// database's, what --feed may name.
	ConfiguredFeeds []string
}

// NewCmdReport builds "trafficctl report".
func NewCmdReport(f *Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{}
	var since, until, tz string
	var noBasemap bool
	c := &cobra.Command{
		Use:   "report",
		Short: "Write one HTML file with charts and a map of what was collected",
		Long: `Write a self-contained HTML report of the collected history: collection health
(runs, failures, gaps), active events over time by category with new and closed
per interval, how long events last (Kaplan–Meier survival by category with the
median and its 95% confidence interval), a map of the events, the top roads
and the longest-open events; for all feeds and for each one. Categories are
the one vocabulary of every feed (incident, construction, detour, ...), each
in the same colour on every report.

The file opens without a network: its scripts and styles are inline. Only
the map's basemap tiles (OpenStreetMap) are loaded online; without them the
events are drawn on a plain background.`,
		Example: `  trafficctl report
  trafficctl report -o bay-area.html --feed 511 --since 2026-11-01 --tz America/Los_Angeles`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.OpenStore, opts.Now = f.IO, f.OpenStoreForReading, f.Now
			if f.Config != nil { // nil in tests that only check the flags
				opts.DatabaseURL, opts.ConfiguredFeeds = f.Config.Database.URL, f.Config.FeedNames()
			}
			if err := applyReportFlags(opts, since, until, tz, noBasemap); err != nil {
				return usageError{err}
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runHTMLReport(c.Context(), opts)
		},
	}
	fs := c.Flags()
	fs.StringVarP(&opts.Output, "output", "o", "report.html", `write to this file (atomically); "-" for stdout`)
	fs.StringSliceVar(&opts.Report.Feeds, "feed", nil, "only these feeds (repeatable, or comma-separated)")
	fs.StringVar(&since, "since", "", "from this time: RFC 3339 or a date (midnight in --tz)")
	fs.StringVar(&until, "until", "", "up to this time, exclusive; a date means the end of that day (in --tz)")
	fs.StringVar(&tz, "tz", "", "show times in this time zone, such as America/Los_Angeles (default UTC)")
	fs.DurationVar(&opts.Report.Every, "every", 0, "the interval of the series over time (default: chosen from the runs' pace and the window)")
	fs.StringVar(&opts.Report.Title, "title", "", `the page's title (default "trafficctl report")`)
	fs.BoolVar(&noBasemap, "no-basemap", false, "draw the map without OpenStreetMap's tiles (the file then loads nothing)")
	return c
}

// applyReportFlags checks the flags and sets the options from them.
func applyReportFlags(opts *ReportOptions, since, until, tz string, noBasemap bool) error {
	opts.Report.Tiles = report.DefaultTiles
	if noBasemap {
		opts.Report.Tiles = ""
	}
	loc, err := loadZone(tz)
	if err != nil {
		return err
	}
	opts.Report.Location = loc
	if opts.Report.Since, opts.Report.Until, err = parseWindow(since, until, loc); err != nil {
		return err
	}
	if every := opts.Report.Every; every != 0 {
		if every < time.Minute {
			return fmt.Errorf("--every %s: the interval must be at least 1m", every)
		}
		if err := (store.Grid{Every: every, Loc: loc}).Check(); err != nil {
			return fmt.Errorf("--every: %w", err)
		}
	}
	if opts.Output == "" {
		return fmt.Errorf(`-o: give a file name, or "-" for stdout`)
	}
	return nil
}

func runHTMLReport(ctx context.Context, opts *ReportOptions) error {
	st, err := openCollected(ctx, opts.OpenStore, opts.DatabaseURL, opts.Report.Feeds, opts.ConfiguredFeeds)
	if err != nil {
		return err
	}
	defer st.Close()
	ro := opts.Report
	ro.Now, ro.Version = opts.Now(), Version()
	d, err := report.Load(ctx, st, ro)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	write := func(w io.Writer) error { return report.Render(w, d) }
	if opts.Output == "-" {
		return write(opts.IO.Out)
	}
	return export.WriteFile(ctx, opts.Output, "write the report to", write)
}
