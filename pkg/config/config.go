// Package config loads trafficctl's settings: command-line flags, then
// TRAFFICCTL_* environment variables (and .env), then the config file, then
// built-in defaults. The rest of the program reads the typed Config only.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/subosito/gotenv"

	"github.com/trafficctl/trafficctl/pkg/source"
)

// ErrConfig is wrapped by every configuration error (exit status 2).
var ErrConfig = errors.New("configuration error")

// KeyURL is where 511.org API keys come from.
const KeyURL = "https://511.org/open-data/token"

// Config is the whole configuration of one invocation.
type Config struct {
	Database Database `mapstructure:"database"`
	// Source configures the single feed "default" when there is no feeds
	// section, and is what every feed inherits otherwise.
	Source Source `mapstructure:"source"`
	Log    Log    `mapstructure:"log"`
	Fetch  Fetch  `mapstructure:"fetch"`
	// Feeds are the feeds to collect, in name order: the feeds section
	// resolved, or the one feed "default" made of Source.
	Feeds []Feed `mapstructure:"-"`
	// File is the config file that was read, if any.
	File string `mapstructure:"-"`
}

// Feed is one named feed with its settings resolved.
type Feed struct {
	Name string
	Source
}

// DefaultFeed is the name of the feed that source.* configures on its own.
const DefaultFeed = "default"

// Feed formats.
const (
	FormatOpen511 = "open511"
	FormatWZDx    = "wzdx"
)

// Database settings.
type Database struct {
	URL string `mapstructure:"url"`
}

// Source settings: one feed.
type Source struct {
	URL      string            `mapstructure:"url"`
	Format   string            `mapstructure:"format"`   // open511 or wzdx
	Timezone string            `mapstructure:"timezone"` // IANA name, for times without an offset
	APIKey   string            `mapstructure:"api_key"`
	Params   map[string]string `mapstructure:"params"`
	PageSize int               `mapstructure:"page_size"`
	Timeout  time.Duration     `mapstructure:"timeout"`
	Deadline time.Duration     `mapstructure:"deadline"`
	Retries  int               `mapstructure:"retries"`
	MaxBody  int64             `mapstructure:"max_body"`
	MaxPages int               `mapstructure:"max_pages"` // Open511: more pages fail the run
}

// Fetch settings: how the feeds of one fetch are run.
type Fetch struct {
	// Parallel is how many feeds are fetched at once (fetch --parallel).
	Parallel int `mapstructure:"parallel"`
}

// DefaultParallel is fetch.parallel when nothing sets it. The work is
// mostly waiting for feeds, so more than the cores; a few, so that two or
// three hung feeds cannot hold every slot, while the snapshots read ahead
// on SQLite (one per slot) stay a few in memory.
const DefaultParallel = 4

// Log settings.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
	Quiet  bool   `mapstructure:"quiet"`
}

// Defaults, in one place. config.example.yaml documents each.
var defaults = map[string]any{
	"database.url":     "sqlite:///trafficctl.db",
	"source.url":       "https://api.511.org/traffic/events",
	"source.format":    FormatOpen511,
	"source.timezone":  "UTC",
	"source.api_key":   "",
	"source.params":    map[string]string{},
	"source.page_size": 500,
	"source.timeout":   "30s",
	"source.deadline":  "2m",
	"source.retries":   3,
	"source.max_body":  64 << 20,
	"source.max_pages": 1000,
	"log.level":        "info",
	"log.format":       "text",
	"log.quiet":        false,
	"fetch.parallel":   DefaultParallel,
}

// extraEnv are environment names read besides TRAFFICCTL_<SECTION>_<KEY>,
// first found wins: the names users already have.
var extraEnv = map[string][]string{
	"database.url":   {"DATABASE_URL"},                           // Heroku sets it
	"source.api_key": {"TRAFFICCTL_API_KEY", "FIVEONEONE_TOKEN"}, // the brief's name and the tutorial's
}

// Options say where to look.
type Options struct {
	File   string         // --config; empty means ./trafficctl.yaml if it exists
	DotEnv string         // .env file to load; empty means ./.env
	Flags  *pflag.FlagSet // flags named like keys, "database-url" for database.url
	Logger *slog.Logger   // for warnings (unknown keys, readable key file)
}

// flagKeys maps global flag names to keys.
var flagKeys = map[string]string{
	"database-url": "database.url",
	"log-level":    "log.level",
	"log-format":   "log.format",
	"quiet":        "log.quiet",
}

// Load reads the configuration.
func Load(opts Options) (*Config, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dotenv := opts.DotEnv
	if dotenv == "" {
		dotenv = ".env"
	}
	// Like python-dotenv: variables already set win over the file.
	if err := loadDotEnv(dotenv); err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrConfig, dotenv, err)
	}

	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("TRAFFICCTL")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for key := range defaults {
		names := append([]string{"TRAFFICCTL_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))}, extraEnv[key]...)
		if err := v.BindEnv(append([]string{key}, names...)...); err != nil {
			return nil, err
		}
	}
	if opts.Flags != nil {
		for name, key := range flagKeys {
			if f := opts.Flags.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, err
				}
			}
		}
	}

	file := opts.File
	if file == "" {
		if _, err := os.Stat("trafficctl.yaml"); err == nil {
			file = "trafficctl.yaml"
		}
	}
	if file != "" {
		settings, err := readFile(file)
		if err != nil {
			return nil, err
		}
		if err := v.MergeConfigMap(settings); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %v", ErrConfig, file, err)
		}
		warnUnknownKeys(v, file, log)
		warnReadableKey(v, file, log)
	}

	var c Config
	if err := v.Unmarshal(&c, viper.DecodeHook(decodeHook), noWeakTypes); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, decodeMessage(err))
	}
	c.File = file
	if err := c.Validate(); err != nil {
		return nil, err
	}
	feeds, err := resolveFeeds(c.Source, v.GetStringMap("feeds"))
	if err != nil {
		return nil, err
	}
	c.Feeds = feeds
	return &c, nil
}

var decodeHook = mapstructure.ComposeDecodeHookFunc(
	exactTypes, // first: a number must not reach the duration hook's type
	mapstructure.StringToTimeDurationHookFunc(),
	queryToMap, // TRAFFICCTL_SOURCE_PARAMS="region=x&status=ACTIVE"
)

// feedKeys are the keys a feed may set; any other is inherited from
// source.*, except url and params, which are the feed's own.
var feedKeys = []string{"url", "format", "params", "page_size", "timeout", "deadline", "retries", "max_body", "max_pages", "timezone", "api_key"}

var feedName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// resolveFeeds turns the feeds section into Feeds: each feed's own keys
// (from the file, then TRAFFICCTL_FEEDS_<NAME>_<KEY>) over source.*.
// Without a feeds section, source.* is the one feed "default".
func resolveFeeds(global Source, section map[string]any) ([]Feed, error) {
	if len(section) == 0 {
		return []Feed{{Name: DefaultFeed, Source: global}}, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	globalURL, _ := url.Parse(global.URL)
	var feeds []Feed
	envOf := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(section)) {
		raw := section[name]
		if !feedName.MatchString(name) {
			return nil, bad("feed name %q must be 1 to 32 characters of a-z, 0-9, - and _, starting with a letter or digit", name)
		}
		// a-b and a_b would share their environment variables: one
		// TRAFFICCTL_FEEDS_A_B_URL would re-point both.
		if other, ok := envOf[feedEnv(name)]; ok {
			return nil, bad("feeds %s and %s differ only in - and _, and would share the variables %s*: rename one", other, name, feedEnv(name))
		}
		envOf[feedEnv(name)] = name
		keys, ok := raw.(map[string]any)
		if !ok && raw != nil {
			return nil, bad("feeds.%s must be a map of settings such as url and format", name)
		}
		set := map[string]any{}
		for k, val := range keys {
			if !slices.Contains(feedKeys, k) {
				return nil, bad("feeds.%s.%s is not a feed setting (use %s)", name, k, strings.Join(feedKeys, ", "))
			}
			set[k] = val
		}
		prefix := feedEnv(name)
		for _, k := range feedKeys {
			if val, ok := os.LookupEnv(prefix + strings.ToUpper(k)); ok {
				set[k] = val
			}
		}
		src := global
		src.URL, src.Params, src.APIKey = "", nil, ""
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			DecodeHook: decodeHook, Result: &src,
		})
		if err == nil {
			err = dec.Decode(set)
		}
		if err != nil {
			return nil, bad("feeds.%s: %s", name, decodeMessage(err))
		}
		if src.URL == "" {
			return nil, bad("feeds.%s has no url", name)
		}
		if _, own := set["api_key"]; !own {
			// The global key goes only to the host it is for.
			if u, err := url.Parse(src.URL); err == nil && globalURL != nil && source.SameHost(u, globalURL) {
				src.APIKey = global.APIKey
			}
		}
		f := Feed{Name: name, Source: src}
		if err := f.validate(); err != nil {
			return nil, err
		}
		feeds = append(feeds, f)
	}
	return feeds, nil
}

// feedEnv is the prefix of a feed's environment variables:
// TRAFFICCTL_FEEDS_<NAME>_, with - written as _.
func feedEnv(name string) string {
	return "TRAFFICCTL_FEEDS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
}

// FeedNames are the configured feeds' names, in order.
func (c *Config) FeedNames() []string {
	var names []string
	for _, f := range c.Feeds {
		names = append(names, f.Name)
	}
	return names
}

// Location is the feed's time zone, for times written without an offset.
func (s Source) Location() *time.Location {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.UTC // validated already
	}
	return loc
}

// noWeakTypes turns off mapstructure's weak typing, under which true is
// read as 1 and "" as 0; exactTypes accepts what means exactly the key's
// type instead.
func noWeakTypes(dc *mapstructure.DecoderConfig) { dc.WeaklyTypedInput = false }

// typeError says what a key's value must be; it never quotes the value,
// which may be a secret.
type typeError string

func (e typeError) Error() string { return string(e) }

const (
	errNotDuration typeError = "must be a duration with a unit, such as 30s or 2m (a number alone is not one)"
	errNotWhole    typeError = "must be a whole number"
	errNotBool     typeError = "must be true or false"
)

var durationType = reflect.TypeOf(time.Duration(0))

// exactTypes reads a value as its key's type only when it means exactly
// that. Without it a number is taken as a duration in nanoseconds
// (timeout: 5 is 5ns), and a float as its integer part (page_size: 1.5 is
// 1). Strings, which is all an environment variable can be, are parsed
// strictly as the key's type ("500", "true", "30s"). Numbers and booleans
// are written out for text keys: YAML types a query parameter's value
// (year: 2021) that is text to the feed.
func exactTypes(from, to reflect.Type, data any) (any, error) {
	if from == to {
		return data, nil
	}
	fk, tk := from.Kind(), to.Kind()
	isNumber := fk >= reflect.Int && fk <= reflect.Float64
	isFloat := fk == reflect.Float32 || fk == reflect.Float64
	switch {
	case to == durationType:
		if fk == reflect.String {
			d, err := time.ParseDuration(strings.TrimSpace(data.(string)))
			if err != nil {
				return nil, errNotDuration
			}
			return d, nil
		}
		if isNumber || fk == reflect.Bool {
			return nil, errNotDuration
		}
	case tk >= reflect.Int && tk <= reflect.Int64:
		switch {
		case fk == reflect.String:
			n, err := strconv.ParseInt(strings.TrimSpace(data.(string)), 10, 64)
			if err != nil {
				return nil, errNotWhole
			}
			return n, nil
		case isFloat:
			f := reflect.ValueOf(data).Float()
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, errNotWhole
			}
			return int64(f), nil
		case fk == reflect.Bool:
			return nil, errNotWhole
		}
	case tk == reflect.Bool:
		switch {
		case fk == reflect.String:
			b, err := strconv.ParseBool(strings.TrimSpace(data.(string)))
			if err != nil {
				return nil, errNotBool
			}
			return b, nil
		case isNumber:
			return nil, errNotBool
		}
	case tk == reflect.String:
		switch {
		case isFloat:
			return strconv.FormatFloat(reflect.ValueOf(data).Float(), 'f', -1, 64), nil
		case isNumber || fk == reflect.Bool:
			return fmt.Sprint(data), nil
		}
	}
	return data, nil
}

// decodeMessage is one line naming each key whose value could not be
// read and why: mapstructure's own text spans lines and starts with
// "decoding failed due to the following error(s)".
func decodeMessage(err error) string {
	var parts []string
	var walk func(error)
	walk = func(err error) {
		var de *mapstructure.DecodeError
		switch e := err.(type) {
		case *mapstructure.DecodeError:
			if errors.As(e.Unwrap(), &de) {
				walk(e.Unwrap())
				return
			}
			var te typeError
			if errors.As(e.Unwrap(), &te) {
				parts = append(parts, e.Name()+" "+te.Error())
			} else {
				parts = append(parts, e.Name()+": "+e.Unwrap().Error())
			}
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	if len(parts) == 0 {
		return strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return strings.Join(parts, "; ")
}

// loadDotEnv sets the variables of a .env file that are not set already.
// A file that does not exist is no error.
func loadDotEnv(file string) error {
	f, err := openRegular(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if err := gotenv.Apply(bytes.NewReader(data)); err != nil {
		return dotenvError(data, err)
	}
	return nil
}

// dotenvError says which line of a .env file does not parse, by its number
// only: gotenv's message quotes the line, and the line most likely holds
// the API key.
func dotenvError(data []byte, err error) error {
	what := "is not of the form NAME=value"
	if err.Error() == "missing quotes" {
		what = "opens a quote that is never closed"
	}
	return fmt.Errorf("line %d %s", badDotEnvLine(data), what)
}

// badDotEnvLine is the number of the line where a .env file that fails to
// parse goes wrong: the line after the longest run of lines from the top
// that parses. (A quoted value may span lines, so no line can be judged
// alone; every run that includes the bad line fails.) Lines end as gotenv
// ends them: at \n, \r or \r\n.
func badDotEnvLine(data []byte) int {
	ends := []int{0}
	for i := 0; i < len(data); i++ {
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		if data[i] == '\n' || data[i] == '\r' || i == len(data)-1 {
			ends = append(ends, i+1)
		}
	}
	for n := len(ends) - 2; n > 0; n-- {
		if _, err := gotenv.StrictParse(bytes.NewReader(data[:ends[n]])); err == nil {
			return n + 1
		}
	}
	return 1
}

// queryToMap reads a map[string]string written as a query string, the one
// form a map can take in an environment variable.
func queryToMap(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf(map[string]string{}) {
		return data, nil
	}
	values, err := url.ParseQuery(data.(string))
	if err != nil {
		return nil, fmt.Errorf("source.params %q is not of the form key=value&key2=value2", data)
	}
	m := make(map[string]string, len(values))
	for k, vs := range values {
		m[k] = vs[len(vs)-1]
	}
	return m, nil
}

func warnUnknownKeys(v *viper.Viper, file string, log *slog.Logger) {
	var unknown []string
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; ok || strings.HasPrefix(k, "source.params.") || strings.HasPrefix(k, "feeds.") {
			continue // a feed's keys are checked when it is resolved
		}
		if v.InConfig(k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		log.Warn("unknown key in config file; ignored", "file", file, "key", k)
	}
}

// warnReadableKey warns when a config file that holds the API key can be
// read by other users of the machine.
func warnReadableKey(v *viper.Viper, file string, log *slog.Logger) {
	inConfig := v.InConfig("source.api_key")
	for name := range v.GetStringMap("feeds") {
		inConfig = inConfig || v.InConfig("feeds."+name+".api_key")
	}
	if !inConfig {
		return
	}
	if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o044 != 0 {
		log.Warn("the config file holds the API key and other users can read it; run chmod 600 on it", "file", file)
	}
}

// Validate checks values that would otherwise fail later and less clearly.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log level %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log format %q is not text or json", c.Log.Format)
	}
	if c.Fetch.Parallel < 1 {
		return bad("fetch.parallel must be at least 1, not %d", c.Fetch.Parallel)
	}
	return c.Source.validate("source", "TRAFFICCTL_API_KEY")
}

func (f Feed) validate() error {
	return f.Source.validate("feeds."+f.Name, feedEnv(f.Name)+"API_KEY")
}

// validate checks one feed's settings; section names them in errors, and
// keyEnv is where its key belongs.
func (s Source) validate(section, keyEnv string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s."+format, append([]any{ErrConfig, section}, args...)...)
	}
	u, err := source.CheckURL(s.URL)
	if err != nil {
		return bad("url %v", err)
	}
	if u.Query().Has("api_key") {
		return bad("url must not hold the API key; set %s instead", keyEnv)
	}
	if s.Format != FormatOpen511 && s.Format != FormatWZDx {
		return bad("format %q is not open511 or wzdx", s.Format)
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" {
		return bad("timezone %q is not an IANA time zone name such as UTC or America/Los_Angeles", s.Timezone)
	}
	if s.PageSize < 1 {
		return bad("page_size must be at least 1")
	}
	if s.Timeout <= 0 || s.Deadline <= 0 {
		return bad("timeout and deadline must be positive durations such as 30s or 2m")
	}
	if s.Retries < 0 {
		return bad("retries must not be negative")
	}
	if s.MaxBody < 1024 {
		return bad("max_body must be at least 1024 bytes")
	}
	if s.MaxPages < 1 {
		return bad("max_pages must be at least 1")
	}
	return nil
}

// RequireKey fails when a feed needs a key and none is set: 511.org
// does, other feeds (DriveBC) do not.
func (f Feed) RequireKey() error {
	u, err := url.Parse(f.URL)
	if err != nil {
		return err
	}
	if f.APIKey == "" && strings.EqualFold(u.Hostname(), "api.511.org") {
		where := "TRAFFICCTL_API_KEY (in the environment or in .env)"
		if f.Name != DefaultFeed {
			where = "TRAFFICCTL_API_KEY, or the feed's own api_key (" + feedEnv(f.Name) + "API_KEY)"
		}
		return fmt.Errorf("%w: feed %s: 511.org needs an API key: set %s; get a free key at %s", ErrConfig, f.Name, where, KeyURL)
	}
	return nil
}
