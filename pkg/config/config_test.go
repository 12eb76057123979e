package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// inDir runs the test in a fresh folder with no TRAFFICCTL variables set.
func inDir(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TRAFFICCTL_") || name == "DATABASE_URL" || name == "FIVEONEONE_TOKEN" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	return dir
}

func flags(args ...string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("database-url", "", "")
	fs.String("log-level", "", "")
	fs.String("log-format", "", "")
	fs.Bool("quiet", false, "")
	if err := fs.Parse(args); err != nil {
		panic(err)
	}
	return fs
}

func write(t *testing.T, name, text string) string {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	tests := []struct {
		name      string
		file, env string
		flag      []string
		want      string
	}{
		{"default", "", "", nil, "sqlite:///trafficctl.db"},
		{"file", "database:\n  url: sqlite:///file.db\n", "", nil, "sqlite:///file.db"},
		{"env over file", "database:\n  url: sqlite:///file.db\n", "sqlite:///env.db", nil, "sqlite:///env.db"},
		{"flag over env", "database:\n  url: sqlite:///file.db\n", "sqlite:///env.db", []string{"--database-url", "sqlite:///flag.db"}, "sqlite:///flag.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			if tt.file != "" {
				write(t, "trafficctl.yaml", tt.file)
			}
			if tt.env != "" {
				t.Setenv("TRAFFICCTL_DATABASE_URL", tt.env)
			}
			c, err := Load(Options{Flags: flags(tt.flag...)})
			if err != nil {
				t.Fatal(err)
			}
			if c.Database.URL != tt.want {
				t.Fatalf("database.url = %q, want %q", c.Database.URL, tt.want)
			}
		})
	}
}

func TestEnvNamesForKeyAndDatabase(t *testing.T) {
	inDir(t)
	t.Setenv("FIVEONEONE_TOKEN", "tutorial-key")
	t.Setenv("DATABASE_URL", "postgres://heroku@host/db")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.APIKey != "tutorial-key" || c.Database.URL != "postgres://heroku@host/db" {
		t.Fatalf("key %q db %q", c.Source.APIKey, c.Database.URL)
	}
	t.Setenv("TRAFFICCTL_API_KEY", "brief-key")
	t.Setenv("TRAFFICCTL_DATABASE_URL", "sqlite:///mine.db")
	c, err = Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.APIKey != "brief-key" || c.Database.URL != "sqlite:///mine.db" {
		t.Fatalf("TRAFFICCTL_ names do not win: key %q db %q", c.Source.APIKey, c.Database.URL)
	}
}

func TestDotEnvDoesNotOverrideEnvironment(t *testing.T) {
	inDir(t)
	write(t, ".env", "TRAFFICCTL_API_KEY=from-dotenv\nTRAFFICCTL_SOURCE_PAGE_SIZE=50\n")
	t.Setenv("TRAFFICCTL_SOURCE_PAGE_SIZE", "70")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Unsetenv("TRAFFICCTL_API_KEY") })
	if c.Source.APIKey != "from-dotenv" || c.Source.PageSize != 70 {
		t.Fatalf("key %q page size %d", c.Source.APIKey, c.Source.PageSize)
	}
}

func TestFileValuesAndTypes(t *testing.T) {
	inDir(t)
	write(t, "c.yaml", "source:\n  url: https://api.open511.gov.bc.ca/events\n  timeout: 5s\n  params:\n    status: ACTIVE\n  retries: 0\nlog:\n  level: debug\n")
	c, err := Load(Options{File: "c.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Timeout != 5*time.Second || c.Source.Params["status"] != "ACTIVE" || c.Source.Retries != 0 || c.Log.Level != "debug" || c.Source.Deadline != 2*time.Minute {
		t.Fatalf("%+v", c)
	}
	if err := c.Feeds[0].RequireKey(); err != nil {
		t.Fatalf("DriveBC needs no key: %v", err)
	}
	if c.Fetch.Parallel != DefaultParallel {
		t.Fatalf("fetch.parallel %d, want the default %d", c.Fetch.Parallel, DefaultParallel)
	}
	t.Setenv("TRAFFICCTL_FETCH_PARALLEL", "7")
	if c, err = Load(Options{File: "c.yaml"}); err != nil || c.Fetch.Parallel != 7 {
		t.Fatalf("fetch.parallel from env: %v %v", c, err)
	}
	t.Setenv("TRAFFICCTL_SOURCE_PARAMS", "region=x&status=ARCHIVED")
	c, err = Load(Options{File: "c.yaml"})
	if err != nil || c.Source.Params["status"] != "ARCHIVED" || c.Source.Params["region"] != "x" {
		t.Fatalf("params from env: %v %v", c.Source.Params, err)
	}
}

func TestBadConfigIsAConfigError(t *testing.T) {
	tests := []struct{ name, file, env, want string }{
		{"not yaml", "source: [unclosed\n", "", "not valid YAML"},
		{"bad level", "log:\n  level: loud\n", "", `log level "loud"`},
		{"bad url", "source:\n  url: ftp://x\n", "", "is not an http(s) URL"},
		{"bad duration", "source:\n  timeout: soon\n", "", "configuration error"},
		{"key in url", "source:\n  url: https://x/events?api_key=abc\n", "", "must not hold the API key"},
		{"missing file", "", "", "no such file"},
		{"no parallel", "fetch:\n  parallel: 0\n", "", "fetch.parallel must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			file := "missing.yaml"
			if tt.file != "" {
				file = write(t, "c.yaml", tt.file)
			}
			_, err := Load(Options{File: file})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a config error with %q", err, tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	dir := inDir(t)
	f := filepath.Join(dir, "c.yaml")
	os.WriteFile(f, []byte("source:\n  api_key: k\n  pagesize: 3\n"), 0o644)
	var buf bytes.Buffer
	_, err := Load(Options{File: f, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "key=source.pagesize") || !strings.Contains(out, "chmod 600") {
		t.Fatalf("warnings: %s", out)
	}
}

func TestRequireKeyFor511(t *testing.T) {
	inDir(t)
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Feeds[0].RequireKey()
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "TRAFFICCTL_API_KEY") || !strings.Contains(err.Error(), KeyURL) {
		t.Fatalf("err = %v", err)
	}
}
