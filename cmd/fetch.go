package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/config"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// FetchOptions are the inputs of trafficctl fetch.
type FetchOptions struct {
	IO         IOStreams
	Now        func() time.Time
	HTTPClient *http.Client
	Config     *config.Config
	Logger     *slog.Logger
	Secrets    *redact.Secrets
	OpenStore  func(context.Context) (*store.Store, error)
	DryRun     bool
	Backoff    time.Duration // first retry delay; zero means the client's default
}

// NewCmdFetch builds "trafficctl fetch". runF replaces the run function in
// tests that check how flags land in the options.
func NewCmdFetch(f *Factory, runF func(context.Context, *FetchOptions) error) *cobra.Command {
	opts := &FetchOptions{}
	c := &cobra.Command{
		Use:   "fetch",
		Short: "Fetch one complete snapshot of the feed and store it",
		Long: `Fetch every page of the feed's current events, then in one transaction upsert
them, extend or start their history spells, close the events that are gone, and
record the run in the ledger. Pending migrations are applied first. A run that
fails writes nothing of its snapshot and is recorded as failed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.Now, opts.HTTPClient = f.IO, f.Now, f.HTTPClient
			opts.Config, opts.Logger, opts.Secrets, opts.OpenStore = f.Config, f.Logger, f.Secrets, f.OpenStore
			opts.Backoff = f.Backoff
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runFetch(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.DryRun, "dry-run", false, "fetch and compare with the database, write nothing")
	return c
}

func runFetch(ctx context.Context, opts *FetchOptions) error {
	cfg := opts.Config
	if err := cfg.RequireKey(); err != nil {
		return err
	}
	var st *store.Store
	// A dry run writes nothing: not even the empty SQLite file that opening
	// a database that does not exist yet would create.
	if !opts.DryRun || !store.NotCreated(cfg.Database.URL) {
		var err error
		if st, err = opts.OpenStore(ctx); err != nil {
			return err
		}
		defer st.Close()
	}
	src := cfg.Source
	client := &open511.Client{
		HTTP: opts.HTTPClient, URL: src.URL, APIKey: src.APIKey, Params: src.Params, PageSize: src.PageSize,
		Timeout: src.Timeout, Retries: src.Retries, MaxBody: src.MaxBody,
		Backoff:   opts.Backoff,
		UserAgent: "trafficctl/" + Version() + " (+https://github.com/trafficctl/trafficctl)",
		Logger:    opts.Logger,
	}
	sourceURL, _ := url.Parse(src.URL)
	sum, err := collect.Run(ctx, collect.Params{
		Client: client, Store: st, Now: opts.Now, Version: Version(), SourceURL: redact.URL(sourceURL),
		Deadline: src.Deadline, DryRun: opts.DryRun, Logger: opts.Logger, Secrets: opts.Secrets,
	})
	if err != nil && sum.RunID == 0 && !opts.DryRun {
		return err // nothing was recorded (locked, or the database failed): the error says it all
	}
	attrs := []any{
		"run_id", sum.RunID, "status", sum.Status, "received", sum.Received, "new", sum.New,
		"changed", sum.Changed, "unchanged", sum.Unchanged, "closed", sum.Closed, "skipped", sum.Skipped,
		"pages", sum.Pages, "duration", sum.Duration.Round(time.Millisecond).String(),
	}
	if err != nil {
		opts.Logger.Error("fetch finished", append(attrs, "error", err.Error())...)
		return err
	}
	if opts.DryRun {
		opts.Logger.Info("fetch finished", append(attrs, "dry_run", true)...)
		_, err := fmt.Fprintf(opts.IO.Out, "dry run: %d events in %d pages would give %d new, %d changed, %d unchanged, %d closed (%d skipped); nothing was written\n",
			sum.Received, sum.Pages, sum.New, sum.Changed, sum.Unchanged, sum.Closed, sum.Skipped)
		return err
	}
	opts.Logger.Info("fetch finished", attrs...)
	return nil
}
