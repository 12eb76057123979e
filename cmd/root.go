// Package cmd is trafficctl's command line (fetch, import, migrate, export,
// status, report, version): one file per subcommand, each a constructor, an options struct
// and a run function that makes one call into pkg/. No SQL and no HTTP here.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/config"
	exportpkg "github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/redact"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// Exit statuses, documented in the README.
const (
	ExitOK          = 0
	ExitFailed      = 1   // the run failed (source or database)
	ExitUsage       = 2   // usage or configuration error
	ExitTemporary   = 75  // another run holds the lock, or rate-limited: try later (EX_TEMPFAIL)
	ExitInterrupted = 130 // SIGINT; SIGTERM gives 143
)

// IOStreams are a command's standard streams; tests pass buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY says whether ErrOut is a terminal (progress bars go there only).
	ErrTTY bool
	// OutTTY says whether Out is a terminal (binary output is refused there).
	OutTTY bool
}

// Factory holds what every command shares. Config and Logger are set by the
// root command before a subcommand runs.
type Factory struct {
	IO         IOStreams
	Now        func() time.Time
	HTTPClient *http.Client
	Backoff    time.Duration // first retry delay; zero is the default (tests use milliseconds)
	Secrets    *redact.Secrets
	Config     *config.Config
	Logger     *slog.Logger
	DotEnv     string // .env file; empty means ./.env

	configFile string
	started    bool // a subcommand's run function was reached
}

// OpenStore opens the configured database.
func (f *Factory) OpenStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, f.Config.Database.URL)
}

// OpenStoreForReading opens the configured database for a command that
// only reads it: a SQLite file this user cannot write is opened read-only.
func (f *Factory) OpenStoreForReading(ctx context.Context) (*store.Store, error) {
	return store.OpenForReading(ctx, f.Config.Database.URL)
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "trafficctl",
		Short: "Collect a time series of traffic events from Open511 and WZDx feeds into SQLite or PostgreSQL",
		Long: `trafficctl collects traffic events from Open511 feeds (511.org's Traffic Events
API by default, DriveBC and others) and WZDx work-zone feeds into SQLite or
PostgreSQL, keeping every change as history; one database holds several feeds,
each with its own history. Run "trafficctl fetch" from cron or Heroku Scheduler
(it applies pending migrations first; "trafficctl migrate" applies them alone).
"trafficctl export" writes what was collected as CSV, JSON Lines, GeoJSON or
Parquet; "trafficctl status" reports each feed's last run, failures and gaps.`,
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			// Cobra checks flag groups (export's one format) only after
			// this hook: checked here, a clash is a usage error (exit 2).
			if err := c.ValidateFlagGroups(); err != nil {
				return usageError{err}
			}
			if needsNoConfig(c) {
				f.started = true
				return nil
			}
			return f.load(c)
		},
	}
	root.SetVersionTemplate("trafficctl {{.Version}}\n")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&f.configFile, "config", "", "config file (default ./trafficctl.yaml if it exists)")
	pf.String("database-url", "", "database URL: sqlite:///file.db, a file path, or postgres://... (default sqlite:///trafficctl.db)")
	pf.String("log-level", "", "log level: debug, info, warn or error (default info)")
	pf.String("log-format", "", "log format on stderr: text or json (default text)")
	pf.Bool("quiet", false, "log errors only")

	fetch, status, export := NewCmdFetch(f, nil), NewCmdStatus(f, nil), NewCmdExport(f, nil)
	imp, report := NewCmdImport(f, nil), NewCmdReport(f, nil)
	root.AddCommand(fetch, imp, NewCmdMigrate(f, nil), export, status, report, NewCmdVersion(f))
	registerCompletions(f, root, fetch, status, export, imp, report)
	return root
}

// needsNoConfig says whether c runs without reading the configuration:
// help, version and shell completion work even with a broken config file.
// (Completing a feed name reads it itself, see registerCompletions.)
func needsNoConfig(c *cobra.Command) bool {
	for ; c != nil; c = c.Parent() {
		switch c.Name() {
		case "help", "version", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

// registerCompletions completes flag values and feed names in the shell.
func registerCompletions(f *Factory, root, fetch, status, export, imp, report *cobra.Command) {
	fixed := func(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	// Feed names come from the configuration, read on demand; a broken
	// configuration completes nothing rather than failing.
	feedNames := func(c *cobra.Command) []string {
		if f.Config == nil && f.load(c) != nil {
			return nil
		}
		return f.Config.FeedNames()
	}
	// fetch and status take feeds as arguments: offer those not given yet.
	feedArgs := func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return without(feedNames(c), args), cobra.ShellCompDirectiveNoFileComp
	}
	// --feed is repeatable and comma-separated: after "a,b," offer the
	// other feeds, each as the whole word ("a,b,c") the shell will put.
	feedList := func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		given := strings.Split(toComplete, ",")
		prefix := strings.Join(given[:len(given)-1], ",")
		var out []string
		for _, name := range without(feedNames(c), given[:len(given)-1]) {
			if prefix != "" {
				name = prefix + "," + name
			}
			out = append(out, name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	root.RegisterFlagCompletionFunc("log-level", fixed("debug", "info", "warn", "error"))
	root.RegisterFlagCompletionFunc("log-format", fixed("text", "json"))
	fetch.ValidArgsFunction = feedArgs
	status.ValidArgsFunction = feedArgs
	var formats []string
	for _, format := range exportpkg.Formats {
		formats = append(formats, string(format))
	}
	export.RegisterFlagCompletionFunc("table", fixed(exportpkg.Tables...))
	export.RegisterFlagCompletionFunc("format", fixed(formats...))
	export.RegisterFlagCompletionFunc("feed", feedList)
	export.RegisterFlagCompletionFunc("by", fixed(store.GroupBys...))
	export.RegisterFlagCompletionFunc("category", fixed(traffic.Categories...))
	export.RegisterFlagCompletionFunc("partition", fixed(partitionDay))
	imp.RegisterFlagCompletionFunc("feed", feedArgs)
	report.RegisterFlagCompletionFunc("feed", feedList)
}

// without is names less those in given.
func without(names, given []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(given, n) {
			out = append(out, n)
		}
	}
	return out
}

// load reads the configuration and sets up logging.
func (f *Factory) load(c *cobra.Command) error {
	// Warnings while loading go to a text logger at warn level; the
	// configured logger exists only once the configuration does.
	early := slog.New(redact.NewHandler(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}), f.Secrets))
	cfg, err := config.Load(config.Options{File: f.configFile, DotEnv: f.DotEnv, Flags: c.Root().PersistentFlags(), Logger: early})
	if err != nil {
		return err
	}
	f.Secrets.Add(cfg.Source.APIKey)
	f.Secrets.Add(urlSecrets(cfg.Source.URL, cfg.Source.Params)...)
	for _, feed := range cfg.Feeds {
		f.Secrets.Add(feed.APIKey)
		f.Secrets.Add(urlSecrets(feed.URL, feed.Params)...)
	}
	if t, err := store.ParseURL(cfg.Database.URL); err == nil {
		f.Secrets.Add(dsnPassword(t.DSN))
	}
	f.Config = cfg
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	if cfg.Log.Quiet {
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(f.IO.ErrOut, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(f.IO.ErrOut, opts)
	}
	f.Logger = slog.New(redact.NewHandler(h, f.Secrets))
	f.started = true
	return nil
}

// usageError marks errors in the command line itself (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// Interrupted is the cause of a run cancelled by a signal.
type Interrupted struct{ Signal os.Signal }

func (i Interrupted) Error() string { return "interrupted by " + signalName(i.Signal) }

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// ExitCode maps an error to the documented exit status.
func ExitCode(ctx context.Context, err error, started bool) int {
	if err == nil {
		return ExitOK
	}
	var intr Interrupted
	if errors.As(err, &intr) || errors.As(context.Cause(ctx), &intr) {
		if intr.Signal == syscall.SIGTERM {
			return 143
		}
		return ExitInterrupted
	}
	var usage usageError
	switch {
	case errors.As(err, &usage), errors.Is(err, config.ErrConfig), errors.Is(err, store.ErrBadURL):
		return ExitUsage
	case collect.IsTemporary(err):
		return ExitTemporary
	case !started:
		return ExitUsage // cobra's own errors: unknown command, bad arguments
	}
	return ExitFailed
}

// Execute runs the command line and returns its exit status. Errors are
// printed as one line on stderr with every secret masked.
func Execute(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	msg := err.Error()
	var intr Interrupted
	if !errors.As(err, &intr) && errors.As(context.Cause(ctx), &intr) {
		msg += " (" + intr.Error() + ")"
	}
	code := ExitCode(ctx, err, f.started)
	if f.Config != nil && f.Config.Log.Format == "json" && f.Logger != nil {
		// Log drains parse every line of stderr: the last one too.
		f.Logger.Error("trafficctl: "+msg, "exit_status", code)
		return code
	}
	fmt.Fprintln(f.IO.ErrOut, "trafficctl: "+f.Secrets.Text(msg))
	return code
}

// Main runs trafficctl as a process: real streams, clock and HTTP client,
// and SIGINT/SIGTERM cancelling the run.
func Main(args []string) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(Interrupted{Signal: s})
		signal.Stop(sigs) // a second signal ends the process at once
	}()
	f := &Factory{
		IO:         IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, ErrTTY: isTerminal(os.Stderr), OutTTY: isTerminal(os.Stdout)},
		Now:        time.Now,
		HTTPClient: &http.Client{Transport: http.DefaultTransport},
		Secrets:    &redact.Secrets{},
	}
	return Execute(ctx, f, args)
}
