package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelpVersionAndCompletionNeedNoConfig: with a broken config file,
// help, version and completion still work; a command that needs the
// configuration says what is wrong with it.
func TestHelpVersionAndCompletionNeedNoConfig(t *testing.T) {
	t.Parallel()
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("source: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"help"}, {"version"}, {"completion", "bash"}, {"fetch", "--help"}} {
		code, out, errOut := run(t, time.Now(), append(args, "--config", broken)...)
		if code != 0 || out == "" {
			t.Errorf("%v with a broken config: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := run(t, time.Now(), "status", "--config", broken); code != ExitUsage || !strings.Contains(errOut, "not valid YAML") {
		t.Errorf("status with a broken config: exit %d, stderr %q", code, errOut)
	}
}

// TestCompletionOfFeedsAndFlagValues: feed names come from the
// configuration; --table and --log-format from their fixed lists.
func TestCompletionOfFeedsAndFlagValues(t *testing.T) {
	t.Parallel()
	cfg := feedsConfig(t, "https://api.511.org/traffic/events", map[string]string{"bayarea": "https://api.511.org/traffic/events", "drivebc": "https://api.open511.gov.bc.ca/events"}, "")
	for args, want := range map[string]string{
		"__complete fetch ":              "bayarea\ndrivebc\n",
		"__complete status ":             "bayarea\ndrivebc\n",
		"__complete export --feed ":      "bayarea\ndrivebc\n",
		"__complete export --table ":     "events\nversions\nruns\nsnapshots\n",
		"__complete fetch --log-format ": "text\njson\n",
	} {
		words := strings.Fields(args)
		code, out, errOut := run(t, time.Now(), append(append([]string{words[0], "--config", cfg}, words[1:]...), "")...)
		if code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q first", args, code, out, errOut, want)
		}
	}
}

// TestJSONLogsEndWithAJSONError: with --log-format json every line of
// stderr is a JSON record, the final error too.
func TestJSONLogsEndWithAJSONError(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, time.Now(), "export", "--table", "nosuch", "--log-format", "json", "--database-url", "sqlite:///"+filepath.Join(t.TempDir(), "x.db"))
	if code != ExitUsage {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
	}
	var last map[string]any
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last["level"] != "ERROR" || !strings.Contains(last["msg"].(string), "unknown table") || last["exit_status"] != float64(ExitUsage) {
		t.Errorf("last record %v", last)
	}
}

// TestOneExportFormat: --format and its shorthands exclude each other
// (cobra's flag group), as a usage error before anything is opened.
func TestOneExportFormat(t *testing.T) {
	t.Parallel()
	db := "sqlite:///" + filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{{"--csv", "--geojson"}, {"--csv", "--parquet"}, {"--format", "jsonl", "--csv"}} {
		code, _, errOut := run(t, time.Now(), append([]string{"export", "--database-url", db}, args...)...)
		if code != ExitUsage || !strings.Contains(errOut, "none of the others can be") {
			t.Errorf("export %v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
