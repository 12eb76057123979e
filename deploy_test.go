package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// The Heroku files are read by Heroku only, on deploy: these tests are
// where a broken one is found first.

func TestProcfileReleasesWithMigrateAndRunsNoDyno(t *testing.T) {
	f, err := os.Open("Procfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	procs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, command, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("Procfile line %q is not NAME: COMMAND", line)
		}
		procs[strings.TrimSpace(name)] = strings.TrimSpace(command)
	}
	if procs["release"] != "bin/trafficctl migrate" {
		t.Errorf("release process %q, want %q", procs["release"], "bin/trafficctl migrate")
	}
	// trafficctl is one-shot: Heroku Scheduler starts it. A web or clock
	// process would be a dyno running (and billed) all the time.
	for name := range procs {
		if name != "release" {
			t.Errorf("Procfile declares a %q process; only release belongs there", name)
		}
	}
}

func TestGoModHasTheHerokuDirectives(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(b)
	goVersion := regexp.MustCompile(`(?m)^// \+heroku goVersion go(1\.\d+)$`).FindStringSubmatch(mod)
	if goVersion == nil {
		t.Fatal("go.mod has no // +heroku goVersion go1.N line")
	}
	// The buildpack's Go must be able to build what the go directive asks for.
	goLine := regexp.MustCompile(`(?m)^go (1\.\d+)`).FindStringSubmatch(mod)
	if goLine == nil || goLine[1] != goVersion[1] {
		t.Errorf("+heroku goVersion go%s does not match the go directive %v", goVersion[1], goLine)
	}
	if !regexp.MustCompile(`(?m)^// \+heroku install \./$`).MatchString(mod) {
		t.Error("go.mod has no // +heroku install ./ line")
	}
	// "install ./" names the binary after the module path's last element:
	// that must be the bin/trafficctl that the Procfile and Scheduler run.
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindStringSubmatch(mod)
	if module == nil || path.Base(module[1]) != "trafficctl" {
		t.Errorf("module %v would not install bin/trafficctl", module)
	}
}

func TestAppJSONAsksForTheKeyAndTheAddOns(t *testing.T) {
	b, err := os.ReadFile("app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Addons []struct{ Plan string }
		Env    map[string]struct {
			Description string
			Required    *bool
			Value       string
		}
		Formation map[string]any
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatalf("app.json does not parse: %v", err)
	}
	want := map[string]bool{"heroku-postgresql": false, "scheduler": false}
	for _, a := range app.Addons {
		service, _, _ := strings.Cut(a.Plan, ":")
		if _, ok := want[service]; ok {
			want[service] = true
		}
	}
	for service, found := range want {
		if !found {
			t.Errorf("app.json does not add %s", service)
		}
	}
	key, ok := app.Env["TRAFFICCTL_API_KEY"]
	if !ok || key.Required == nil || !*key.Required || len(key.Description) < 20 {
		t.Errorf("TRAFFICCTL_API_KEY must be required and described: %+v", key)
	}
	if key.Value != "" {
		t.Error("app.json must not hold a value for the API key")
	}
	if len(app.Formation) != 0 {
		t.Errorf("app.json formation %v starts dynos; trafficctl needs none", app.Formation)
	}
}

func TestSystemdUnitsRunTheCommands(t *testing.T) {
	for file, want := range map[string]string{
		"deploy/trafficctl-fetch.service":  "ExecStart=/usr/local/bin/trafficctl fetch\n",
		"deploy/trafficctl-health.service": "ExecStart=/usr/local/bin/trafficctl status --max-age 30m\n",
		"deploy/trafficctl-fetch.timer":    "OnCalendar=*:0/10\n",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", file, strings.TrimSpace(want))
		}
		if regexp.MustCompile(`(?m)^Environment=.*TRAFFICCTL_API_KEY=`).Match(b) {
			t.Errorf("%s holds an API key; it belongs in the EnvironmentFile", file)
		}
	}
}
