package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/config"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// ImportOptions are the inputs of trafficctl import.
type ImportOptions struct {
	IO         IOStreams
	Config     *config.Config
	Logger     *slog.Logger
	Secrets    *redact.Secrets
	OpenStore  func(context.Context) (*store.Store, error)
	Feed       string
	Paths      []string
	ObservedAt time.Time // --observed-at, for one file
}

// NewCmdImport builds "trafficctl import".
func NewCmdImport(f *Factory, runF func(context.Context, *ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{}
	var observedAt string
	c := &cobra.Command{
		Use:   "import --feed NAME (DIR | --observed-at TIME FILE)...",
		Short: "Store archived feed bodies as runs at the times they were fetched",
		Long: `Load archived responses of a configured feed as its history: each file is one
run at the time it was fetched, with exactly a fetch's semantics (the same
decoder and checks, new, changed, unchanged and closed events, a ledger row;
a file that fails is recorded as a failed run, as a fetch would be).

A file is an Open511 page (or a bare list of its events) or a WZDx document,
as the feed's format says, plain or gzip (.json or .json.gz). A folder holds
the files and a manifest.csv with the header file,observed_at: one line per
file, its path relative to the folder and an RFC 3339 time. A single file
takes its time from --observed-at instead.

Runs are appended: every time must be after the feed's latest run, or nothing
is imported.`,
		Example: `  trafficctl import --feed default archive/
  trafficctl import --feed wzdx --observed-at 2025-10-10T17:00:00Z wzdx-2025-10-10.json.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.IO, opts.Config, opts.Logger, opts.Secrets, opts.OpenStore = f.IO, f.Config, f.Logger, f.Secrets, f.OpenStore
			opts.Paths = args
			if opts.Feed == "" {
				return usageError{fmt.Errorf("--feed is required: name the configured feed the files are responses of")}
			}
			if observedAt != "" {
				at, err := time.Parse(time.RFC3339, observedAt)
				if err != nil {
					return usageError{fmt.Errorf("--observed-at %q is not an RFC 3339 time such as 2021-04-15T17:10:00Z", observedAt)}
				}
				opts.ObservedAt = at.UTC()
			}
			if runF != nil {
				return runF(c.Context(), opts)
			}
			return runImport(c.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Feed, "feed", "", "the configured feed the files are responses of (required)")
	c.Flags().StringVar(&observedAt, "observed-at", "", "when the one FILE was fetched (RFC 3339); folders have a manifest.csv instead")
	return c
}

// archives lists the runs to import: a folder's manifest, or the one file
// at --observed-at.
func (opts *ImportOptions) archives() ([]collect.Archived, error) {
	var out []collect.Archived
	for _, p := range opts.Paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, usageError{fmt.Errorf("cannot read %s: %w", p, errors.Unwrap(err))}
		}
		if info.IsDir() {
			if !opts.ObservedAt.IsZero() {
				return nil, usageError{fmt.Errorf("--observed-at is for one file; %s is a folder, and a folder's times come from its %s", p, collect.ManifestName)}
			}
			list, err := collect.ReadManifest(p)
			if err != nil {
				return nil, usageError{err}
			}
			out = append(out, list...)
			continue
		}
		if opts.ObservedAt.IsZero() || len(opts.Paths) > 1 {
			return nil, usageError{fmt.Errorf("%s: give one file with --observed-at, or a folder with a %s (file,observed_at)", p, collect.ManifestName)}
		}
		out = append(out, collect.Archived{Path: p, ObservedAt: opts.ObservedAt})
	}
	for _, a := range out {
		if info, err := os.Stat(a.Path); err != nil || !info.Mode().IsRegular() {
			return nil, usageError{fmt.Errorf("cannot read %s: not a file", a.Path)}
		}
	}
	return out, nil
}

func runImport(ctx context.Context, opts *ImportOptions) error {
	feeds, err := selectFeeds(opts.Config, []string{opts.Feed})
	if err != nil {
		return err
	}
	archives, err := opts.archives()
	if err != nil {
		return err
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	feed := feeds[0]
	archive := &collect.Archive{Open511: feed.Format != config.FormatWZDx, MaxBody: feed.MaxBody}
	// The decoder is the fetch's, reading through the archive: no retries
	// (a file says the same again), no key, and errors that name the file.
	// Its URL is never requested, only parsed.
	feed.Retries, feed.URL, feed.APIKey = 0, "http://import.invalid/", ""
	src := newSource(feed, archive.Client(), 0, opts.Logger)
	src.Name = archive.Name
	decoder := feedDecoder(feed, src)
	p := collect.Params{Feed: decoder, FeedName: feed.Name, Store: st, Version: Version(), Deadline: feed.Deadline, Logger: opts.Logger, Secrets: opts.Secrets}
	runs, failed := 0, 0
	err = collect.Import(ctx, p, archive, archives, func(a collect.Archived, sum collect.Summary, err error) {
		attrs := []any{
			"feed", feed.Name, "file", filepath.Base(a.Path), "observed_at", a.ObservedAt.UTC().Format(time.RFC3339), "run_id", sum.RunID,
			"status", sum.Status, "received", sum.Received, "new", sum.New, "changed", sum.Changed, "unchanged", sum.Unchanged,
			"closed", sum.Closed, "skipped", sum.Skipped,
		}
		if sum.RunID != 0 {
			runs++
		}
		if err != nil {
			failed++
			opts.Logger.Error("import finished", append(attrs, "error", err.Error())...)
			return
		}
		opts.Logger.Info("import finished", attrs...)
	})
	if runs > 0 {
		if _, werr := fmt.Fprintf(opts.IO.Out, "feed %s: %d of %d files imported as runs from %s to %s (%d failed)\n", feed.Name, runs, len(archives),
			archives[0].ObservedAt.UTC().Format(time.RFC3339), archives[runs-1].ObservedAt.UTC().Format(time.RFC3339), failed); werr != nil {
			return werr
		}
	}
	if err != nil {
		return oneLine{err}
	}
	return nil
}
