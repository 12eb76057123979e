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
// configuration (those not given yet; after a comma in --feed, the rest of
// the list); --table, --format, --by, --partition and --log-format from
// their fixed lists, and --category from the vocabulary. The last word of
// each case is the one being completed.
func TestCompletionOfFeedsAndFlagValues(t *testing.T) {
	t.Parallel()
	cfg := feedsConfig(t, "https://api.511.org/traffic/events", map[string]string{"bayarea": "https://api.511.org/traffic/events", "drivebc": "https://api.open511.gov.bc.ca/events"}, "")
	for _, tc := range []struct {
		args []string
		want string // the values, then cobra's directive line
	}{
		{[]string{"fetch", ""}, "bayarea\ndrivebc\n:4\n"},
		{[]string{"fetch", "drivebc", ""}, "bayarea\n:4\n"},
		{[]string{"status", ""}, "bayarea\ndrivebc\n:4\n"},
		{[]string{"export", "--feed", ""}, "bayarea\ndrivebc\n:6\n"},
		{[]string{"export", "--feed", "drivebc,"}, "drivebc,bayarea\n:6\n"},
		{[]string{"export", "--feed", "bayarea,drivebc,"}, ":6\n"},
		{[]string{"export", "--table", ""}, "events\nversions\nruns\nsnapshots\nlifetimes\ncounts\nchanges\n:4\n"},
		{[]string{"export", "--format", ""}, "csv\njsonl\ngeojson\nparquet\n:4\n"},
		{[]string{"export", "--by", ""}, "none\nfeed\nevent_type\nseverity\ncategory\n:4\n"},
		{[]string{"export", "--category", ""}, "incident\nconstruction\nspecial-event\nweather\nroad-condition\ndetour\nrestriction\nother\n:4\n"},
		{[]string{"export", "--partition", ""}, "day\n:4\n"},
		{[]string{"fetch", "--log-format", ""}, "text\njson\n:4\n"},
	} {
		args := append([]string{"__complete", tc.args[0], "--config", cfg}, tc.args[1:]...)
		code, out, errOut := run(t, time.Now(), args...)
		if code != 0 || !strings.HasPrefix(out, tc.want) {
			t.Errorf("complete %q: exit %d, stdout %q, stderr %q; want %q first", tc.args, code, out, errOut, tc.want)
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
