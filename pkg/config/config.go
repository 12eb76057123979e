// Package config loads trafficctl's settings: command-line flags, then
// TRAFFICCTL_* environment variables (and .env), then the config file, then
// built-in defaults. The rest of the program reads the typed Config only.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"github.com/subosito/gotenv"
)

// ErrConfig is wrapped by every configuration error (exit status 2).
var ErrConfig = errors.New("configuration error")

// KeyURL is where 511.org API keys come from.
const KeyURL = "https://511.org/open-data/token"

// Config is the whole configuration of one invocation.
type Config struct {
	Database Database `mapstructure:"database"`
	Source   Source   `mapstructure:"source"`
	Log      Log      `mapstructure:"log"`
	// File is the config file that was read, if any.
	File string `mapstructure:"-"`
}

// Database settings.
type Database struct {
	URL string `mapstructure:"url"`
}

// Source settings: the Open511 feed.
type Source struct {
	URL      string            `mapstructure:"url"`
	APIKey   string            `mapstructure:"api_key"`
	Params   map[string]string `mapstructure:"params"`
	PageSize int               `mapstructure:"page_size"`
	Timeout  time.Duration     `mapstructure:"timeout"`
	Deadline time.Duration     `mapstructure:"deadline"`
	Retries  int               `mapstructure:"retries"`
	MaxBody  int64             `mapstructure:"max_body"`
}

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
	"source.api_key":   "",
	"source.params":    map[string]string{},
	"source.page_size": 500,
	"source.timeout":   "30s",
	"source.deadline":  "2m",
	"source.retries":   3,
	"source.max_body":  64 << 20,
	"log.level":        "info",
	"log.format":       "text",
	"log.quiet":        false,
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
	if err := gotenv.Load(dotenv); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: read %s: %v", ErrConfig, dotenv, dotenvError(dotenv, err))
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
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var notFound *fs.PathError
			if errors.As(err, &notFound) {
				return nil, fmt.Errorf("%w: config file %s: %v", ErrConfig, file, notFound.Err)
			}
			return nil, fmt.Errorf("%w: config file %s is not valid YAML", ErrConfig, file)
		}
		warnUnknownKeys(v, file, log)
		warnReadableKey(v, file, log)
	}

	var c Config
	if err := v.Unmarshal(&c, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		exactTypes, // first: a number must not reach the duration hook's type
		mapstructure.StringToTimeDurationHookFunc(),
		queryToMap, // TRAFFICCTL_SOURCE_PARAMS="region=x&status=ACTIVE"
	)), noWeakTypes); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, decodeMessage(err))
	}
	c.File = file
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
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

// dotenvError says which line of a .env file does not parse, by its number
// only: gotenv's message quotes the line, and the line most likely holds
// the API key.
func dotenvError(file string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err // could not be read: the message holds no content
	}
	data, rerr := os.ReadFile(file)
	if rerr != nil {
		return rerr
	}
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
		if _, ok := defaults[k]; ok || strings.HasPrefix(k, "source.params.") {
			continue
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
	if !v.InConfig("source.api_key") {
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
	u, err := url.Parse(c.Source.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("source.url %q is not an http(s) URL", c.Source.URL)
	}
	if u.Query().Has("api_key") {
		return bad("source.url must not hold the API key; set TRAFFICCTL_API_KEY instead")
	}
	if c.Source.PageSize < 1 {
		return bad("source.page_size must be at least 1")
	}
	if c.Source.Timeout <= 0 || c.Source.Deadline <= 0 {
		return bad("source.timeout and source.deadline must be positive durations such as 30s or 2m")
	}
	if c.Source.Retries < 0 {
		return bad("source.retries must not be negative")
	}
	if c.Source.MaxBody < 1024 {
		return bad("source.max_body must be at least 1024 bytes")
	}
	return nil
}

// RequireKey fails when the source needs a key and none is set: 511.org
// does, other Open511 feeds (DriveBC) do not.
func (c *Config) RequireKey() error {
	u, err := url.Parse(c.Source.URL)
	if err != nil {
		return err
	}
	if c.Source.APIKey == "" && strings.EqualFold(u.Hostname(), "api.511.org") {
		return fmt.Errorf("%w: 511.org needs an API key: set TRAFFICCTL_API_KEY (in the environment or in .env); get a free key at %s", ErrConfig, KeyURL)
	}
	return nil
}
