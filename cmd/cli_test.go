package cmd

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/redact"
)

// run executes trafficctl in-process, the real command tree, with captured
// streams, the clock stopped at now and retries 1 ms apart. Its
// configuration comes only from args (--config FILE, --database-url ...):
// TestMain clears trafficctl's variables from the environment, and no .env
// is read, so tests that use it share no process state and may run in
// parallel.
func run(t testing.TB, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{
		IO:         IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Now:        func() time.Time { return now },
		HTTPClient: &http.Client{},
		Secrets:    &redact.Secrets{},
		DotEnv:     filepath.Join(t.TempDir(), "none.env"),
		Backoff:    time.Millisecond,
	}
	code = Execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// configFile writes a config file holding these settings ("source.url" →
// value) and returns its path, for --config. It is readable by its owner
// only, as a file holding an API key should be.
func configFile(t *testing.T, settings map[string]string) string {
	t.Helper()
	sections := map[string][]string{}
	for key, value := range settings {
		section, name, ok := strings.Cut(key, ".")
		if !ok {
			t.Fatalf("setting %q is not section.key", key)
		}
		sections[section] = append(sections[section], fmt.Sprintf("  %s: %s\n", name, strconv.Quote(value)))
	}
	var b strings.Builder
	for _, section := range slices.Sorted(maps.Keys(sections)) {
		slices.Sort(sections[section])
		b.WriteString(section + ":\n" + strings.Join(sections[section], ""))
	}
	path := filepath.Join(t.TempDir(), "trafficctl.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// with returns settings with more added (or replaced).
func with(settings map[string]string, more map[string]string) map[string]string {
	out := maps.Clone(settings)
	maps.Copy(out, more)
	return out
}
