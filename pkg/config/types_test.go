package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A value that means something else than it says is a configuration
// error, not a silent conversion: a duration without a unit (5 would be
// 5ns), a fraction for a whole number (1.5 would be 1), a boolean for a
// number (true would be 1), a number for a boolean.
func TestValuesOfTheWrongTypeAreConfigErrors(t *testing.T) {
	tests := []struct{ name, file, envName, envValue, want string }{
		{"duration without unit in YAML", "source:\n  timeout: 5\n", "", "", "source.timeout must be a duration with a unit, such as 30s"},
		{"duration without unit, quoted", "source:\n  deadline: \"120\"\n", "", "", "source.deadline must be a duration with a unit, such as 30s"},
		{"fractional duration without unit", "source:\n  timeout: 1.5\n", "", "", "source.timeout must be a duration with a unit, such as 30s"},
		{"duration without unit in env", "", "TRAFFICCTL_SOURCE_TIMEOUT", "5", "source.timeout must be a duration with a unit, such as 30s"},
		{"fraction for an int", "source:\n  page_size: 1.5\n", "", "", "source.page_size must be a whole number"},
		{"fraction for an int in env", "", "TRAFFICCTL_SOURCE_PAGE_SIZE", "1.5", "source.page_size must be a whole number"},
		{"bool for an int", "source:\n  retries: true\n", "", "", "source.retries must be a whole number"},
		{"bool for an int64", "source:\n  max_body: false\n", "", "", "source.max_body must be a whole number"},
		{"number for a bool", "log:\n  quiet: 1\n", "", "", "log.quiet must be true or false"},
		{"word for a bool", "log:\n  quiet: yes\n", "", "", "log.quiet must be true or false"},
		{"word for a bool in env", "", "TRAFFICCTL_LOG_QUIET", "yes", "log.quiet must be true or false"},
		{"list for a string", "source:\n  api_key: [SEKRETKEY]\n", "", "", "source.api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			opts := Options{}
			if tt.file != "" {
				opts.File = write(t, "c.yaml", tt.file)
			}
			if tt.envName != "" {
				t.Setenv(tt.envName, tt.envValue)
			}
			c, err := Load(opts)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (config %+v), want a configuration error with %q", err, c, tt.want)
			}
			if strings.Contains(err.Error(), "SEKRET") || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q: shows the value, or is more than one line", err)
			}
		})
	}
}

// Environment variables are always strings: those that read exactly as
// the key's type still work, and so do numbers where YAML typed them.
func TestValuesOfTheRightTypeStillWork(t *testing.T) {
	inDir(t)
	write(t, "c.yaml", "source:\n  url: https://api.open511.gov.bc.ca/events\n  params:\n    year: 2021\n    active: true\n  max_body: 1e6\nlog:\n  quiet: true\n")
	for k, v := range map[string]string{
		"TRAFFICCTL_SOURCE_PAGE_SIZE": "250", "TRAFFICCTL_SOURCE_RETRIES": "0", "TRAFFICCTL_SOURCE_TIMEOUT": "45s",
		"TRAFFICCTL_SOURCE_DEADLINE": "1m30s",
	} {
		t.Setenv(k, v)
	}
	c, err := Load(Options{File: "c.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Source
	if s.PageSize != 250 || s.Retries != 0 || s.Timeout != 45*time.Second || s.Deadline != 90*time.Second || s.MaxBody != 1e6 ||
		s.Params["year"] != "2021" || s.Params["active"] != "true" || !c.Log.Quiet {
		t.Fatalf("%+v %+v", s, c.Log)
	}
	t.Setenv("TRAFFICCTL_LOG_QUIET", "false")
	t.Setenv("TRAFFICCTL_SOURCE_MAX_BODY", "2048")
	if c, err = Load(Options{File: "c.yaml"}); err != nil || c.Log.Quiet || c.Source.MaxBody != 2048 {
		t.Fatalf("quiet %v max_body %d: %v", c.Log.Quiet, c.Source.MaxBody, err)
	}
}
