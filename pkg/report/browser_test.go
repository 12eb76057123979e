package report_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/report"
)

// requireBrowserEnv makes a missing browser fail the test instead of
// skipping it (CI sets it).
const requireBrowserEnv = "TRAFFICCTL_REQUIRE_BROWSER"

// screenshotEnv, when set, is where TestReportInBrowser saves a PNG of the
// whole page (scripts/report-screenshot.sh makes docs/report.png with it).
const screenshotEnv = "TRAFFICCTL_REPORT_SCREENSHOT"

// findChromium is Debian's chromium, or another Chrome on the PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatalf("no chromium on the PATH and %s=1: apt-get install chromium", requireBrowserEnv)
	}
	t.Skipf("no chromium on the PATH (apt-get install chromium; %s=1 makes this a failure)", requireBrowserEnv)
	return ""
}

// browser starts a headless chromium with a fresh profile and no way out
// to the network: every http(s) request goes to a proxy that is not there.
func browser(t *testing.T, listen func(ev any)) context.Context {
	t.Helper()
	exe := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithListener(listen))
	t.Cleanup(cancelTab)
	return tab
}

// drawn counts, for each chart and the map, the canvas pixels in colour
// (not grey): axes, grid lines and text are grey or black, the data is
// not. It reports -1 for a chart that has no canvas.
const drawn = `(() => {
  const colour = (canvas) => {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i+1], b = d[i+2], a = d[i+3];
      if (a > 0 && (Math.abs(r - g) > 40 || Math.abs(g - b) > 40 || Math.abs(r - b) > 40)) n++;
    }
    return n;
  };
  const out = {};
  for (const id of ['health-chart', 'active-chart', 'flow-chart', 'km-chart']) {
    const c = document.querySelector('#' + id + ' canvas');
    out[id] = c ? colour(c) : -1;
  }
  const m = document.querySelector('#map .leaflet-overlay-pane canvas');
  out.map = m ? colour(m) : -1;
  return out;
})()`

type pageState struct {
	Ready       bool
	Charts      int
	MapFeatures int
	Notice      string
	Drawn       map[string]int
	Scopes      int
	Rows        int
	Legend      string
	RoadsNote   string
}

const state = `({
  ready: !!(window.__report && window.__report.ready),
  charts: window.__report ? window.__report.charts : 0,
  mapFeatures: window.__report ? window.__report.mapFeatures : 0,
  notice: document.getElementById('map-notice').hidden ? '' : document.getElementById('map-notice').textContent,
  drawn: ` + drawn + `,
  scopes: document.getElementById('scope').options.length,
  rows: document.querySelectorAll('#km-table tr, #roads tr, #longest tr').length,
  legend: document.getElementById('map-legend').textContent,
  roadsNote: document.getElementById('roads-note').textContent,
})`

// TestReportInBrowser opens a report of the two-feed history in headless
// chromium with no network, and checks that nothing was logged as an error
// or thrown, that each chart and the map drew data, in every scope, and
// that the map says its basemap is unavailable.
func TestReportInBrowser(t *testing.T) {
	st := seedHistory(t, dbtest.SQLite(t))
	d, err := report.Load(context.Background(), st, report.Options{Now: historyStart, Tiles: report.DefaultTiles, Title: "Two feeds, 2021"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Render(f, d); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var problems []string
	tab := browser(t, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *log.EventEntryAdded:
			// Offline, the basemap's tiles fail to load: that is expected,
			// and the page says so. Anything else logged as an error is not.
			tile := e.Entry.Source == log.EntrySourceNetwork && strings.HasPrefix(e.Entry.URL, "https://tile.openstreetmap.org/")
			if e.Entry.Level == log.EntryLevelError && !tile {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	check := func(scope string) {
		t.Helper()
		got, err := chromedp.Run(tab, chromedp.Poll[pageState](`(() => { const s = `+state+`; return s.ready && s.drawn.map > 0 && s.notice ? s : null })()`,
			chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			s, _ := chromedp.Run(tab, chromedp.Evaluate[pageState](state))
			t.Fatalf("%s: the page did not finish drawing: %v; state %+v", scope, err, s)
		}
		for _, id := range []string{"health-chart", "active-chart", "flow-chart", "km-chart", "map"} {
			if got.Drawn[id] < 20 {
				t.Errorf("%s: %s has %d coloured pixels: not drawn", scope, id, got.Drawn[id])
			}
		}
		if got.Charts != 4 || got.MapFeatures == 0 || got.Rows < 6 {
			t.Errorf("%s: %d charts, %d map features, %d table rows", scope, got.Charts, got.MapFeatures, got.Rows)
		}
		if !strings.Contains(got.Notice, "basemap is unavailable") {
			t.Errorf("%s: the map's notice is %q, want it to say the basemap is unavailable", scope, got.Notice)
		}
		if got.Scopes != 3 {
			t.Errorf("%d scopes in the menu, want all feeds and the two feeds", got.Scopes)
		}
		if !strings.Contains(got.Legend, "construction") {
			t.Errorf("%s: the map's legend %q does not name the categories", scope, got.Legend)
		}
		if want := scope != "wzdx"; strings.Contains(got.RoadsNote, "511 name no road") != want {
			t.Errorf("%s: the top roads' note is %q; want it to say 511's events name no road: %v", scope, got.RoadsNote, want)
		}
	}
	check("all feeds")
	if out := os.Getenv(screenshotEnv); out != "" {
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"511", "wzdx"} {
		_, err := chromedp.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(
			`(() => { const s = document.getElementById('scope'); s.value = '%d'; s.dispatchEvent(new Event('change')); return true })()`, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		check(name)
	}
	// The map's filter: events open at the last run are fewer than all.
	n, err := chromedp.Run(tab, chromedp.Evaluate[[]int](`(() => {
		const f = document.getElementById('map-filter'), all = window.__report.mapFeatures;
		f.value = 'open'; f.dispatchEvent(new Event('change'));
		return [all, window.__report.mapFeatures];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 2 || n[1] == 0 || n[1] >= n[0] {
		t.Errorf("map features: all %v, open only: want fewer but some", n)
	}
	// Seen at the last run: exactly the events open then.
	atEnd, err := chromedp.Run(tab, chromedp.Evaluate[int](`(() => {
		const f = document.getElementById('map-filter'), s = document.getElementById('map-time');
		s.value = s.max; s.dispatchEvent(new Event('input'));
		return f.value === 'at' ? window.__report.mapFeatures : -1;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if atEnd != n[1] {
		t.Errorf("map features seen at the last run: %d, want the %d open then", atEnd, n[1])
	}
	// A popup gives the headline, the times and a link.
	popup, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
		window.__report.mapLayer.getLayers()[0].openPopup();
		const p = document.querySelector('.leaflet-popup-content');
		return p ? p.innerHTML : '';
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(popup, "<b>") || !strings.Contains(popup, "first seen 2021-04-") || !strings.Contains(popup, `<a href="http`) ||
		!strings.Contains(popup, "impact: ") {
		t.Errorf("popup %q: want a headline, times, the impact and a link", popup)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
