package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/config"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

// FetchOptions are the inputs of trafficctl fetch.
type FetchOptions struct {
	IO         IOStreams
	Now        func() time.Time
	HTTPClient *http.Client
	Backoff    time.Duration // first retry delay; zero is source.DefaultBackoff (tests use milliseconds)
	Config     *config.Config
	Logger     *slog.Logger
	Secrets    *redact.Secrets
	OpenStore  func(context.Context) (*store.Store, error)
	DryRun     bool
	Feeds      []string // the feeds to run; empty means every configured feed
	// Parallel is how many feeds run at once: --parallel, else
	// fetch.parallel.
	Parallel int
}

// NewCmdFetch builds "trafficctl fetch". runF replaces the run function in
// tests that check how flags land in the options.
func NewCmdFetch(f *Factory, runF func(context.Context, *FetchOptions) error) *cobra.Command {
	opts := &FetchOptions{}
	c := &cobra.Command{
		Use:   "fetch [FEED...]",
		Short: "Fetch one complete snapshot of each feed and store it",
		Long: `Fetch every page of each configured feed's current events (or only of the feeds
named), up to --parallel feeds at once (fetch.parallel, default 4; 1 runs them
one after another in name order). For each feed, in one transaction: upsert
its events, extend or start their history spells, close its events that are
gone, and record the run in the ledger. Pending migrations are applied first.
A run that fails writes nothing of its snapshot and is recorded as failed; the
other feeds still run, and a slow or hung feed holds up only its own slot. On
SQLite, which has one writer, the feeds' snapshots are read side by side and
written one at a time.`,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.Now, opts.HTTPClient, opts.Backoff = f.IO, f.Now, f.HTTPClient, f.Backoff
			opts.Config, opts.Logger, opts.Secrets, opts.OpenStore = f.Config, f.Logger, f.Secrets, f.OpenStore
			opts.Feeds = args
			if !c.Flags().Changed("parallel") {
				opts.Parallel = f.Config.Fetch.Parallel
			} else if opts.Parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1, not %d", opts.Parallel)}
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runFetch(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "fetch and compare with the database, write nothing")
	c.Flags().IntVar(&opts.Parallel, "parallel", config.DefaultParallel, "how many feeds to fetch at once (overrides fetch.parallel)")
	return c
}

// selectFeeds returns the configured feeds named, in name order; none named
// means all. An unknown name is a usage error.
func selectFeeds(cfg *config.Config, names []string) ([]config.Feed, error) {
	if len(names) == 0 {
		return cfg.Feeds, nil
	}
	var out []config.Feed
	for _, f := range cfg.Feeds {
		if slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	for _, name := range names {
		if !slices.Contains(cfg.FeedNames(), name) {
			return nil, usageError{fmt.Errorf("no feed named %q; the configured feeds are %s", name, strings.Join(cfg.FeedNames(), ", "))}
		}
	}
	return out, nil
}

func runFetch(ctx context.Context, opts *FetchOptions) error {
	cfg := opts.Config
	feeds, err := selectFeeds(cfg, opts.Feeds)
	if err != nil {
		return err
	}
	for _, f := range feeds {
		if err := f.RequireKey(); err != nil {
			return err
		}
	}
	var st *store.Store
	// A dry run writes nothing: not even the empty SQLite file that opening
	// a database that does not exist yet would create.
	if !opts.DryRun || !store.NotCreated(cfg.Database.URL) {
		if st, err = opts.OpenStore(ctx); err != nil {
			return err
		}
		defer st.Close()
	}
	// Each feed is its own run; one failing does not stop the others. A
	// signal stops the runs under way (each is rolled back and recorded)
	// and the rest do not start.
	runs := make([]collect.Params, len(feeds))
	for i, f := range feeds {
		if runs[i], err = feedParams(opts, st, f); err != nil {
			return err
		}
	}
	errs := make([]error, len(feeds))
	lines := make([]string, len(feeds)) // a dry run's report, printed in name order
	collect.RunAll(ctx, runs, opts.Parallel, func(i int, sum collect.Summary, err error) {
		lines[i], errs[i] = reportFeed(opts, feeds[i], sum, err)
	})
	for _, line := range lines {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(opts.IO.Out, line); err != nil {
			return err
		}
	}
	var failed, temporary []error
	for i, err := range errs {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return err // the signal, and the first run it stopped
		case collect.IsTemporary(err):
			temporary = append(temporary, feedError(feeds[i].Name, len(feeds), err))
		default:
			failed = append(failed, feedError(feeds[i].Name, len(feeds), err))
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if len(failed) > 0 {
		// A failure outranks a temporary refusal: exit 1, not 75. The
		// temporary ones are named, not wrapped.
		for _, t := range temporary {
			failed = append(failed, errors.New(t.Error()))
		}
		return joinErrors(failed)
	}
	if len(temporary) > 0 {
		return joinErrors(temporary)
	}
	return nil
}

// feedError names the feed in err when there is more than one.
func feedError(feed string, feeds int, err error) error {
	if feeds == 1 {
		return err
	}
	return fmt.Errorf("feed %s: %w", feed, err)
}

// joinErrors is errors.Join on one line: the message stays one sentence
// per feed, separated by "; ".
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return oneLine{errors.Join(errs...)}
}

type oneLine struct{ error }

func (o oneLine) Error() string { return strings.ReplaceAll(o.error.Error(), "\n", "; ") }
func (o oneLine) Unwrap() error { return o.error }

// newFeed builds the decoder of a configured feed.
func newFeed(opts *FetchOptions, f config.Feed) traffic.Feed {
	return feedDecoder(f, newSource(f, opts.HTTPClient, opts.Backoff, opts.Logger))
}

// newSource is the HTTP client of feed f's requests, through hc; backoff
// is the first retry's delay (zero is source.DefaultBackoff).
func newSource(f config.Feed, hc *http.Client, backoff time.Duration, log *slog.Logger) *source.Client {
	return &source.Client{
		HTTP: hc, APIKey: f.APIKey, Timeout: f.Timeout, Retries: f.Retries, Backoff: backoff,
		MaxBody: f.MaxBody, UserAgent: "trafficctl/" + Version() + " (+https://github.com/trafficctl/trafficctl)", Logger: log.With("feed", f.Name),
	}
}

// feedDecoder is feed f's decoder, reading through src.
func feedDecoder(f config.Feed, src *source.Client) traffic.Feed {
	log := src.Logger
	if f.Format == config.FormatWZDx {
		return &wzdx.Feed{Source: src, URL: f.URL, Params: f.Params, Location: f.Location(), Logger: log}
	}
	return &open511.Feed{Source: src, URL: f.URL, Params: f.Params, PageSize: f.PageSize, MaxPages: f.MaxPages, Location: f.Location(), Logger: log}
}

// feedParams are the inputs of one feed's run.
func feedParams(opts *FetchOptions, st *store.Store, f config.Feed) (collect.Params, error) {
	sourceURL, err := source.CheckURL(f.URL)
	if err != nil {
		return collect.Params{}, err // validated with the configuration already
	}
	return collect.Params{
		Feed: newFeed(opts, f), FeedName: f.Name, Store: st, Now: opts.Now, Version: Version(), SourceURL: redact.URL(sourceURL),
		Deadline: f.Deadline, DryRun: opts.DryRun, Logger: opts.Logger, Secrets: opts.Secrets,
	}, nil
}

// reportFeed logs one feed's one summary record and returns its error and,
// for a dry run, its line of the report.
func reportFeed(opts *FetchOptions, f config.Feed, sum collect.Summary, err error) (string, error) {
	if err != nil && sum.RunID == 0 && !opts.DryRun {
		return "", err // nothing was recorded (locked, or the database failed): the error says it all
	}
	attrs := []any{
		"feed", f.Name, "run_id", sum.RunID, "status", sum.Status, "received", sum.Received, "new", sum.New,
		"changed", sum.Changed, "unchanged", sum.Unchanged, "closed", sum.Closed, "skipped", sum.Skipped,
		"pages", sum.Pages, "duration", sum.Duration.Round(time.Millisecond).String(),
	}
	if err != nil {
		opts.Logger.Error("fetch finished", append(attrs, "error", err.Error())...)
		return "", err
	}
	if opts.DryRun {
		opts.Logger.Info("fetch finished", append(attrs, "dry_run", true)...)
		return fmt.Sprintf("dry run: feed %s: %d events in %d pages would give %d new, %d changed, %d unchanged, %d closed (%d skipped); nothing was written\n",
			f.Name, sum.Received, sum.Pages, sum.New, sum.Changed, sum.Unchanged, sum.Closed, sum.Skipped), nil
	}
	opts.Logger.Info("fetch finished", attrs...)
	return "", nil
}
