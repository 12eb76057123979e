package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const threeFeeds = `source:
  url: https://api.511.org/traffic/events
  api_key: global-key
  timeout: 10s
  params:
    status: ACTIVE
feeds:
  bayarea:
    url: https://api.511.org/traffic/events
  bayarea-workzones:
    format: wzdx
    url: https://api.511.org/traffic/wzdx
    timezone: America/Los_Angeles
  drivebc:
    url: https://api.open511.gov.bc.ca/events
    retries: 5
`

func TestFeedsInheritSourceButNotURLParamsOrForeignKeys(t *testing.T) {
	inDir(t)
	write(t, "trafficctl.yaml", threeFeeds)
	t.Setenv("TRAFFICCTL_FEEDS_BAYAREA_WORKZONES_PAGE_SIZE", "70")
	t.Setenv("TRAFFICCTL_FEEDS_DRIVEBC_TIMEOUT", "3s")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.FeedNames(), " "); got != "bayarea bayarea-workzones drivebc" {
		t.Fatalf("feeds %q, want name order", got)
	}
	bay, wz, bc := c.Feeds[0], c.Feeds[1], c.Feeds[2]
	if bay.APIKey != "global-key" || wz.APIKey != "global-key" {
		t.Errorf("feeds on api.511.org must get the global key: %q %q", bay.APIKey, wz.APIKey)
	}
	if bc.APIKey != "" {
		t.Errorf("DriveBC (another host) got a key: %q", bc.APIKey)
	}
	if bay.Params != nil || bc.Params != nil {
		t.Errorf("params are never inherited: %v %v", bay.Params, bc.Params)
	}
	if bay.Format != FormatOpen511 || wz.Format != FormatWZDx || wz.Location().String() != "America/Los_Angeles" || bay.Timezone != "UTC" {
		t.Errorf("format/timezone: %+v %+v", bay.Source, wz.Source)
	}
	if bay.Timeout != 10*time.Second || bc.Timeout != 3*time.Second || bc.Retries != 5 || bay.Retries != 3 {
		t.Errorf("inherited or own timeout/retries: bay %v/%d, drivebc %v/%d", bay.Timeout, bay.Retries, bc.Timeout, bc.Retries)
	}
	if wz.PageSize != 70 || bay.PageSize != 500 {
		t.Errorf("TRAFFICCTL_FEEDS_BAYAREA_WORKZONES_PAGE_SIZE: %d, others %d", wz.PageSize, bay.PageSize)
	}
}

func TestAFeedsOwnKeyGoesOnlyToIt(t *testing.T) {
	inDir(t)
	write(t, "trafficctl.yaml", threeFeeds)
	t.Setenv("TRAFFICCTL_FEEDS_DRIVEBC_API_KEY", "bc-key")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Feeds[2].APIKey != "bc-key" || c.Feeds[0].APIKey != "global-key" {
		t.Fatalf("keys: %q %q", c.Feeds[0].APIKey, c.Feeds[2].APIKey)
	}
}

func TestWithoutFeedsSourceIsTheDefaultFeed(t *testing.T) {
	inDir(t)
	t.Setenv("TRAFFICCTL_SOURCE_URL", "https://api.open511.gov.bc.ca/events")
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Feeds) != 1 || c.Feeds[0].Name != DefaultFeed || c.Feeds[0].URL != "https://api.open511.gov.bc.ca/events" {
		t.Fatalf("feeds %+v", c.Feeds)
	}
}

func TestBadFeedsAreConfigErrors(t *testing.T) {
	for name, yaml := range map[string]string{
		"bad name":     "feeds:\n  Bay.Area:\n    url: https://a.example/x\n",
		"leading dash": "feeds:\n  -bay:\n    url: https://a.example/x\n",
		"too long":     "feeds:\n  " + strings.Repeat("a", 33) + ":\n    url: https://a.example/x\n",
		"no url":       "feeds:\n  bay:\n    format: wzdx\n",
		"bad format":   "feeds:\n  bay:\n    url: https://a.example/x\n    format: gtfs\n",
		"bad timezone": "feeds:\n  bay:\n    url: https://a.example/x\n    timezone: Mars/Olympus\n",
		"unknown key":  "feeds:\n  bay:\n    url: https://a.example/x\n    colour: red\n",
		"key in url":   "feeds:\n  bay:\n    url: https://a.example/x?api_key=abc\n",
	} {
		t.Run(name, func(t *testing.T) {
			inDir(t)
			write(t, "trafficctl.yaml", yaml)
			_, err := Load(Options{})
			if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one-line configuration error", err)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

// TestExampleConfigLoads: config.example.yaml loads as it is (one feed), and
// with its feeds section uncommented (three).
func TestExampleConfigLoads(t *testing.T) {
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inDir(t)
	write(t, "plain.yaml", string(example))
	c, err := Load(Options{File: "plain.yaml"})
	if err != nil || len(c.Feeds) != 1 {
		t.Fatalf("config.example.yaml: %v, %d feeds", err, len(c.Feeds))
	}
	var lines []string
	in := false
	for _, line := range strings.Split(string(example), "\n") {
		switch {
		case line == "# feeds:":
			in, line = true, "feeds:"
		case in && strings.HasPrefix(line, "#   "):
			line = strings.TrimPrefix(line, "#")
		default:
			in = false
		}
		lines = append(lines, line)
	}
	write(t, "feeds.yaml", strings.Join(lines, "\n"))
	c, err = Load(Options{File: "feeds.yaml"})
	if err != nil || strings.Join(c.FeedNames(), " ") != "bayarea bayarea-workzones drivebc" {
		t.Fatalf("config.example.yaml with its feeds: %v, %v", err, c)
	}
}
