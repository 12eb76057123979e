package cmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// ExportOptions are the inputs of trafficctl export.
type ExportOptions struct {
	IO        IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Table     string
	Format    export.Format
	Output    string // "" or "-" for stdout
	Filter    store.Filter
	Series    store.Series // --every and --by, for the counts table

	// DatabaseURL is the configured database: a SQLite file that does not
	// exist is reported, not created.
	DatabaseURL string
	// ConfiguredFeeds are the names of the configured feeds: with the
	// database's, what --feed may name.
	ConfiguredFeeds []string
	Raw             *bool  // --raw or --no-raw; nil: the format's default
	Partition       string // "day": a folder per day under Output (Parquet)
}

// partitionDay is --partition's one value: a folder per UTC day.
const partitionDay = "day"

type exportFlags struct {
	format, since, until, bbox, tz string
	csv, jsonl, geojson            bool
	seriesSet                      bool // --every, --by or --tz was given
	parquet, raw, noRaw            bool
}

// NewCmdExport builds "trafficctl export".
func NewCmdExport(f *Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{}
	var fl exportFlags
	c := &cobra.Command{
		Use:   "export",
		Short: "Write collected data as CSV, JSON Lines, GeoJSON or Parquet",
		Long: `Stream a table to stdout or to a file (-o), as RFC 4180 CSV with a header row
(the default), JSON Lines, a GeoJSON FeatureCollection, or Parquet (GeoParquet
1.1 where there is a geometry). Snapshots and runs can also be written as a
Parquet dataset with a folder per UTC day (--partition day -o DIR).

Tables: events (the latest state of each event), versions (each event's spells of
unchanged content), runs (the ledger of fetches) and snapshots (every successful
run's snapshot rebuilt exactly: one row per run and event).

Two tables for analysis: lifetimes (one row per event: first and last seen,
closed, duration, spells, runs present, and whether it was open at the start
or still is: censored) and counts (a regular time series per feed: --every
an interval, 1h by default, --by a group; runs, open, new and closed events
per interval; an interval without a successful run has empty counts; --tz
aligns the intervals to local midnight).

changes has one row per typed field that changed between consecutive versions
of an event: feed, id, version, changed_at, field, old and new (as text).
--id keeps the given events (repeatable) in every table but runs.`,
		Example: `  trafficctl export --csv > events.csv
  trafficctl export --table snapshots --since 2026-11-01 -o snapshots.csv
  trafficctl export --geojson --event-type INCIDENT --bbox -122.6,37.2,-121.7,38.0 -o incidents.geojson
  trafficctl export --table counts --every 1h --by event_type -o hourly.csv
  trafficctl export --table counts --every 24h --tz America/Los_Angeles -o daily.csv
  trafficctl export --table changes --id 511.org/762714 --id 511.org/763104
  trafficctl export --parquet --table versions -o versions.parquet
  trafficctl export --parquet --table snapshots --partition day --since 2026-11-01 -o snapshots/`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.OpenStore = f.IO, f.OpenStoreForReading
			if f.Config != nil { // nil in tests that only check the flags
				opts.DatabaseURL, opts.ConfiguredFeeds = f.Config.Database.URL, f.Config.FeedNames()
			}
			fl.seriesSet = c.Flags().Changed("every") || c.Flags().Changed("by") || c.Flags().Changed("tz")
			if err := fl.apply(opts); err != nil {
				return usageError{err}
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runExport(c.Context(), opts)
		},
	}
	fs := c.Flags()
	fs.StringVar(&opts.Table, "table", export.Events, "table: "+strings.Join(export.Tables, ", "))
	fs.StringVar(&fl.format, "format", "", "format: csv, jsonl, geojson or parquet (default csv)")
	fs.BoolVar(&fl.csv, "csv", false, "shorthand for --format csv")
	fs.BoolVar(&fl.jsonl, "jsonl", false, "shorthand for --format jsonl")
	fs.BoolVar(&fl.geojson, "geojson", false, "shorthand for --format geojson")
	fs.BoolVar(&fl.parquet, "parquet", false, "shorthand for --format parquet")
	fs.BoolVar(&fl.raw, "raw", false, "include the raw column, the event as the feed sent it (default: JSON Lines; Parquet of events and versions)")
	fs.BoolVar(&fl.noRaw, "no-raw", false, "leave the raw column out")
	fs.StringVar(&opts.Partition, "partition", "", `"`+partitionDay+`": Parquet of snapshots or runs as a folder per UTC day under -o DIR, a file per feed`)
	fs.StringVarP(&opts.Output, "output", "o", "", "write to this file (atomically) instead of stdout")
	fs.StringVar(&fl.since, "since", "", "from this time: RFC 3339 (2026-11-01T08:00:00Z) or a date (2026-11-01, UTC)")
	fs.StringVar(&fl.until, "until", "", "up to this time, exclusive; a date means the end of that day (UTC)")
	fs.StringSliceVar(&opts.Filter.Feeds, "feed", nil, "only these feeds (repeatable, or comma-separated)")
	fs.StringArrayVar(&opts.Filter.IDs, "id", nil, "only the event with this id (repeatable; ids may hold commas)")
	fs.StringSliceVar(&opts.Filter.Categories, "category", nil, "only these categories (repeatable): "+strings.Join(traffic.Categories, ", "))
	fs.StringSliceVar(&opts.Filter.EventTypes, "event-type", nil, "only these event types (repeatable), e.g. INCIDENT")
	fs.StringSliceVar(&opts.Filter.Severities, "severity", nil, "only these severities as received (repeatable), e.g. Major")
	fs.StringSliceVar(&opts.Filter.Statuses, "status", nil, "only these event statuses (repeatable), e.g. ACTIVE")
	fs.StringVar(&fl.bbox, "bbox", "", "only events whose position is inside minlon,minlat,maxlon,maxlat")
	// One format: --format or one of its shorthands.
	c.MarkFlagsMutuallyExclusive("format", "csv", "jsonl", "geojson", "parquet")
	fs.DurationVar(&opts.Series.Every, "every", store.DefaultEvery, "counts: the interval (at least 1s), aligned to the Unix epoch in UTC, or to local midnight with --tz; at most 1,000,000 of them per feed")
	fs.StringVar(&opts.Series.By, "by", store.ByNone, "counts: group each interval by category, event_type, severity, feed or none")
	fs.StringVar(&fl.tz, "tz", "", "counts: align the intervals to midnight in this time zone (America/Los_Angeles), and read --since/--until dates in it (default UTC)")
	return c
}

func (fl *exportFlags) apply(opts *ExportOptions) error {
	// Cobra refuses two of these together (MarkFlagsMutuallyExclusive).
	opts.Format = export.Format(fl.format)
	for name, set := range map[export.Format]bool{export.CSV: fl.csv, export.JSONL: fl.jsonl, export.GeoJSON: fl.geojson, export.Parquet: fl.parquet} {
		if set {
			opts.Format = name
		}
	}
	if opts.Format == "" {
		opts.Format = export.CSV
	}
	if !slices.Contains([]export.Format{export.CSV, export.JSONL, export.GeoJSON, export.Parquet}, opts.Format) {
		return fmt.Errorf("unknown format %q: use csv, jsonl, geojson or parquet", opts.Format)
	}
	if !slices.Contains(export.Tables, opts.Table) {
		return fmt.Errorf("unknown table %q: use %s", opts.Table, strings.Join(export.Tables, ", "))
	}
	for _, c := range opts.Filter.Categories {
		if !slices.Contains(traffic.Categories, c) {
			return fmt.Errorf("--category %q: use %s", c, strings.Join(traffic.Categories, ", "))
		}
	}
	if opts.Table == export.Runs {
		if given := eventFilters(opts.Filter, fl.bbox); len(given) > 0 {
			return fmt.Errorf("%s: the runs table has no events (see --table snapshots)", strings.Join(given, ", "))
		}
	}
	if err := fl.applySeries(opts); err != nil {
		return err
	}
	if err := fl.applyOutput(opts); err != nil {
		return err
	}
	var err error
	if opts.Filter.Since, opts.Filter.Until, err = parseWindow(fl.since, fl.until, opts.Series.Location); err != nil {
		return err
	}
	if fl.bbox != "" {
		if opts.Filter.BBox, err = parseBBox(fl.bbox); err != nil {
			return fmt.Errorf("--bbox: %w", err)
		}
	}
	if opts.Partition != "" && !(onDay(opts.Filter.Since) && onDay(opts.Filter.Until)) {
		// Each day's folder is replaced whole: it must hold the whole day.
		return fmt.Errorf("with --partition, --since and --until take dates (whole UTC days)")
	}
	return nil
}

// eventFilters names the flags given that keep some events, which the runs
// table cannot honour: its rows are fetches, not events.
func eventFilters(f store.Filter, bbox string) []string {
	var given []string
	for _, flag := range []struct {
		name string
		set  bool
	}{
		{"--id", len(f.IDs) > 0},
		{"--category", len(f.Categories) > 0},
		{"--event-type", len(f.EventTypes) > 0},
		{"--severity", len(f.Severities) > 0},
		{"--status", len(f.Statuses) > 0},
		{"--bbox", bbox != ""},
	} {
		if flag.set {
			given = append(given, flag.name)
		}
	}
	return given
}

// applySeries checks --every, --by and --tz, which only counts takes.
func (fl *exportFlags) applySeries(opts *ExportOptions) error {
	if opts.Table != export.Counts {
		if fl.seriesSet {
			return fmt.Errorf("--every, --by and --tz are for --table counts")
		}
		return nil
	}
	if opts.Series.Every < time.Second {
		return fmt.Errorf("--every %s: the interval must be at least 1s", opts.Series.Every)
	}
	if fl.tz != "" {
		loc, err := loadZone(fl.tz)
		if err != nil {
			return err
		}
		opts.Series.Location = loc
		if err := opts.Series.Grid().Check(); err != nil {
			return fmt.Errorf("--every %s: %w", opts.Series.Every, err)
		}
	}
	if !slices.Contains(store.GroupBys, opts.Series.By) {
		return fmt.Errorf("--by %q: use category, event_type, severity, feed or none", opts.Series.By)
	}
	return nil
}

// applyOutput checks what goes with the format: raw, the geometry, where
// the output goes.
func (fl *exportFlags) applyOutput(opts *ExportOptions) error {
	switch {
	case fl.raw && fl.noRaw:
		return fmt.Errorf("choose --raw or --no-raw, not both")
	case fl.raw && !export.EventRows(opts.Table):
		return fmt.Errorf("--raw: the %s table has no raw column", opts.Table)
	case fl.raw || fl.noRaw:
		raw := fl.raw
		opts.Raw = &raw
	}
	if opts.Format == export.GeoJSON && !export.EventRows(opts.Table) {
		return fmt.Errorf("the %s table has no geometry to write as GeoJSON: use csv, jsonl or parquet", opts.Table)
	}
	toStdout := opts.Output == "" || opts.Output == "-"
	switch {
	case opts.Partition == "":
	case opts.Partition != partitionDay:
		return fmt.Errorf("--partition %q: the only partitioning is %s", opts.Partition, partitionDay)
	case opts.Format != export.Parquet:
		return fmt.Errorf("--partition day writes Parquet: add --parquet")
	case export.PartitionKey(opts.Table) == "":
		return fmt.Errorf("--partition day is for the snapshots and runs tables, not %s", opts.Table)
	case toStdout:
		return fmt.Errorf("--partition day writes a folder: give it with -o DIR")
	}
	if opts.Format == export.Parquet && toStdout && opts.IO.OutTTY {
		return fmt.Errorf("refusing to write binary Parquet to a terminal: use -o FILE, or redirect stdout")
	}
	return nil
}

// onDay says whether t is unset or a midnight UTC.
func onDay(t time.Time) bool { return t.IsZero() || t.Equal(t.Truncate(24*time.Hour)) }

// loadZone reads --tz: an IANA zone name; "" is UTC.
func loadZone(name string) (*time.Location, error) {
	if strings.EqualFold(name, "local") {
		// time.LoadLocation("Local") is whatever the machine is set to: a
		// series would change with the host.
		return nil, fmt.Errorf("--tz %q: name the zone, such as America/Los_Angeles", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("--tz %q is not a time zone name such as America/Los_Angeles or UTC", name)
	}
	return loc, nil
}

// parseWhen reads an RFC 3339 time or a date (in loc; nil is UTC). For an
// upper bound a date means the end of that day, so --until 2026-11-01
// includes the 1st.
func parseWhen(s string, upper bool, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if loc == nil {
		loc = time.UTC
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if upper {
			d = d.AddDate(0, 0, 1)
		}
		return store.Grid{Every: 24 * time.Hour, Loc: loc}.Floor(d).UTC(), nil // local midnight, also on a day that skips it
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-01T08:00:00Z) nor a date (2026-11-01)", s)
}

func parseBBox(s string) (*store.BBox, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, fmt.Errorf("%q is not minlon,minlat,maxlon,maxlat", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// NaN would pass every range check below (it compares false) and match no row.
			return nil, fmt.Errorf("%q is not a finite number", strings.TrimSpace(p))
		}
		v[i] = f
	}
	b := &store.BBox{MinLon: v[0], MinLat: v[1], MaxLon: v[2], MaxLat: v[3]}
	if b.MinLon > b.MaxLon || b.MinLat > b.MaxLat || b.MinLon < -180 || b.MaxLon > 180 || b.MinLat < -90 || b.MaxLat > 90 {
		return nil, fmt.Errorf("%q is not a box minlon,minlat,maxlon,maxlat in degrees", s)
	}
	return b, nil
}

func runExport(ctx context.Context, opts *ExportOptions) error {
	st, err := openCollected(ctx, opts.OpenStore, opts.DatabaseURL, opts.Filter.Feeds, opts.ConfiguredFeeds)
	if err != nil {
		return err
	}
	defer st.Close()
	eo := export.Options{Table: opts.Table, Format: opts.Format, Filter: opts.Filter, Raw: opts.Raw, Series: opts.Series}
	err = writeExport(ctx, st, opts, eo)
	var tooMany *store.TooManyIntervalsError
	if errors.As(err, &tooMany) {
		return usageError{fmt.Errorf("%w: give a longer --every, or a shorter range with --since and --until", tooMany)}
	}
	return err
}

// writeExport writes the export where opts says.
func writeExport(ctx context.Context, st *store.Store, opts *ExportOptions, eo export.Options) error {
	if opts.Partition == "" && (opts.Output == "" || opts.Output == "-") {
		_, err := export.Write(ctx, st, eo, opts.IO.Out)
		if err != nil {
			return fmt.Errorf("export %s: %w", opts.Table, err)
		}
		return nil
	}
	if opts.IO.ErrTTY {
		// Only on a terminal: in cron logs a progress bar is noise.
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(opts.IO.ErrOut),
			progressbar.OptionSetDescription("exporting "+opts.Table),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionShowIts(),
			progressbar.OptionClearOnFinish(),
		)
		eo.Progress = func(n int64) { bar.Set64(n) }
		defer bar.Finish()
	}
	var err error
	if opts.Partition != "" {
		_, err = export.ToDays(ctx, st, eo, opts.Output)
		return err
	}
	_, err = export.ToFile(ctx, st, eo, opts.Output)
	return err
}
