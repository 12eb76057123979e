package cmd

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/redact"
)

// fullWriter refuses every write, as a full disk or a closed pipe does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestImportFailsWhenItsSummaryCannotBeWritten: the summary line is the
// command's output; losing it is an error, as for fetch's report.
func TestImportFailsWhenItsSummaryCannotBeWritten(t *testing.T) {
	t.Parallel()
	fixture, err := filepath.Abs("../testdata/511-real-2021/snap_00.json")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		var errOut strings.Builder
		f := &Factory{
			IO:         IOStreams{In: strings.NewReader(""), Out: fullWriter{}, ErrOut: &errOut},
			Now:        time.Now,
			HTTPClient: &http.Client{},
			Secrets:    &redact.Secrets{},
			DotEnv:     filepath.Join(t.TempDir(), "none.env"),
		}
		cfg := configFile(t, map[string]string{"database.url": dbURL, "source.url": "http://feed.test/traffic/events"})
		code := Execute(context.Background(), f, []string{"import", "--config", cfg, "--feed", "default", "--observed-at", "2021-04-15T17:10:36Z", fixture})
		if code != ExitFailed || !strings.Contains(errOut.String(), "no space left on device") {
			t.Errorf("exit %d, stderr %q; want %d and the write's error", code, errOut.String(), ExitFailed)
		}
	})
}
