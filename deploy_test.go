package main

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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

// The Makefile is the one place that says how trafficctl is built; the
// Dockerfile and Heroku's app.json repeat parts of it, and these tests
// compare them with what the Makefile says.

// makeVars returns the Makefile's top-level variable assignments
// (NAME = value, :=, ?=), unexpanded.
func makeVars(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?=|:=|=)\s*(.*)$`)
	for _, line := range strings.Split(string(b), "\n") {
		if m := assign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return vars
}

// makeRecipe returns the recipe lines of a Makefile target, continuation
// lines joined.
func makeRecipe(t *testing.T, target string) []string {
	t.Helper()
	b, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var recipe []string
	in := false
	for _, line := range joinContinued(string(b)) {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, strings.TrimSpace(line))
		case in:
			return recipe
		}
	}
	if !in {
		t.Fatalf("Makefile has no %s target", target)
	}
	return recipe
}

// joinContinued splits text into lines, joining those that end in a
// backslash with the next, as make and Dockerfiles do.
func joinContinued(text string) []string {
	var lines []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(rest)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	return lines
}

// expandMake expands $(NAME) references with vars, recursively, as make
// would.
func expandMake(s string, vars map[string]string) string {
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for range 10 {
		next := ref.ReplaceAllStringFunc(s, func(m string) string {
			return vars[m[2:len(m)-1]]
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

// shellWords splits a shell command line into words the way sh would for a
// simple command: quotes removed, and $NAME or ${NAME} replaced from env
// outside single quotes only (inside them the shell leaves a $ alone).
func shellWords(t *testing.T, line string, env map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'' && r != '\'':
			w.WriteRune(r)
		case r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote, inWord = r, true
		case quote == 0 && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == '$':
			name := regexp.MustCompile(`^(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`).FindStringSubmatch(string(rs[i+1:]))
			if name == nil {
				w.WriteRune(r)
				break
			}
			v, ok := env[name[1]+name[2]]
			if !ok {
				t.Fatalf("%q uses $%s, which the test does not know", line, name[1]+name[2])
			}
			w.WriteString(v)
			i += len([]rune(name[0]))
			inWord = true
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated %c quote in %q", quote, line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// goBuildFlags returns the arguments of the first "go build" in words,
// without -o and its file (where the binary goes differs).
func goBuildFlags(words []string) []string {
	for i := 0; i+1 < len(words); i++ {
		if path.Base(words[i]) == "go" && words[i+1] == "build" {
			var flags []string
			for j := i + 2; j < len(words); j++ {
				if words[j] == "-o" {
					j++
					continue
				}
				flags = append(flags, words[j])
			}
			return flags
		}
	}
	return nil
}

// versionPlaceholder stands for the version in both the Makefile's and the
// Dockerfile's flags: each fills it in its own way.
const versionPlaceholder = "VERSION-AT-BUILD-TIME"

// makeBuildFlags returns the go build flags of make build, VERSION left as
// versionPlaceholder.
func makeBuildFlags(t *testing.T) []string {
	t.Helper()
	vars := makeVars(t)
	vars["GO"] = "go"
	vars["VERSION"] = versionPlaceholder
	for _, line := range makeRecipe(t, "build") {
		if flags := goBuildFlags(shellWords(t, expandMake(line, vars), nil)); flags != nil {
			return flags
		}
	}
	t.Fatal("make build runs no go build")
	return nil
}

// linkerSymbols returns the -X symbol=value pairs of an -ldflags value.
func linkerSymbols(ldflags string) map[string]string {
	syms := map[string]string{}
	f := strings.Fields(ldflags)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-X" {
			sym, val, _ := strings.Cut(f[i+1], "=")
			syms[sym] = val
		}
	}
	return syms
}

// versionSymbol returns the symbol that make build's -X sets to $(VERSION).
func versionSymbol(t *testing.T) string {
	t.Helper()
	flags := makeBuildFlags(t)
	for i := 0; i+1 < len(flags); i++ {
		if flags[i] == "-ldflags" {
			for sym, val := range linkerSymbols(flags[i+1]) {
				if val == versionPlaceholder {
					return sym
				}
			}
		}
	}
	t.Fatalf("make build's flags %q set no symbol to $(VERSION)", flags)
	return ""
}

func TestAppJSONLinksTheVersionLikeTheMakefile(t *testing.T) {
	b, err := os.ReadFile("app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Env map[string]struct{ Value string }
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatalf("app.json does not parse: %v", err)
	}
	sym, ok := app.Env["GO_LINKER_SYMBOL"]
	if !ok {
		t.Fatal("app.json sets no GO_LINKER_SYMBOL: Heroku builds would report version dev")
	}
	want := versionSymbol(t)
	if sym.Value != want {
		t.Errorf("app.json's GO_LINKER_SYMBOL is %q; make build sets %q", sym.Value, want)
	}
	// Unset, the buildpack uses SOURCE_VERSION: the commit being deployed.
	if v, ok := app.Env["GO_LINKER_VALUE"]; ok {
		t.Errorf("app.json sets GO_LINKER_VALUE %q; leave it out so that it is the deployed commit", v.Value)
	}

	// -X only sets a package-level string variable that is not given a
	// non-constant value; anything else is silently ignored by the linker.
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(mod)
	dot := strings.LastIndex(want, ".")
	if module == nil || dot < 0 {
		t.Fatalf("symbol %q is not package.name in a module", want)
	}
	pkgPath, name := want[:dot], want[dot+1:]
	dir, ok := strings.CutPrefix(pkgPath, string(module[1]))
	if !ok {
		t.Fatalf("symbol %q is not in module %s", want, module[1])
	}
	sources, err := filepath.Glob(filepath.Join("."+dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, src := range sources {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name != name {
						continue
					}
					found = true
					if typ, ok := vs.Type.(*ast.Ident); vs.Type != nil && (!ok || typ.Name != "string") {
						t.Errorf("%s is not declared as a string", want)
					}
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); !ok || lit.Kind != token.STRING {
							t.Errorf("%s is initialised with something other than a string literal; -X would not set it", want)
						}
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no package-level variable %s in .%s", want, dir)
	}
}

// dockerStage is one FROM ... stage of a Dockerfile: its base image and its
// instructions (continuation lines joined, comments dropped).
type dockerStage struct {
	from         string
	instructions [][2]string // keyword (upper case), arguments
}

func readDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	for _, line := range joinContinued(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kw, args, _ := strings.Cut(line, " ")
		kw, args = strings.ToUpper(kw), strings.TrimSpace(args)
		if kw == "FROM" {
			image, _, _ := strings.Cut(args, " ")
			stages = append(stages, dockerStage{from: image})
			continue
		}
		if len(stages) == 0 {
			continue // ARGs before the first FROM
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, [2]string{kw, args})
	}
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no FROM")
	}
	return stages
}

func TestDockerfileBuildsLikeTheMakefile(t *testing.T) {
	stages := readDockerfile(t)
	var build *dockerStage
	var buildRun string
	for i := range stages {
		for _, in := range stages[i].instructions {
			if in[0] == "RUN" && regexp.MustCompile(`(^|\s)go build\s`).MatchString(in[1]) {
				build, buildRun = &stages[i], in[1]
			}
		}
	}
	if build == nil {
		t.Fatal("no stage of the Dockerfile runs go build")
	}

	// The image's Go is go.mod's major.minor: a golang:1.25 tag follows
	// 1.25's patch releases, each of which meets "go 1.25.0", and the
	// Heroku build (// +heroku goVersion) uses the same minor. A pinned
	// patch release must not be older than the go directive.
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goDirective := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?$`).FindSubmatch(mod)
	if goDirective == nil {
		t.Fatal("go.mod has no go directive")
	}
	tag := regexp.MustCompile(`^golang:(\d+)\.(\d+)(?:\.(\d+))?-bookworm$`).FindStringSubmatch(build.from)
	if tag == nil {
		t.Fatalf("build stage FROM %s; want golang:<go.mod's version>-bookworm", build.from)
	}
	if tag[1] != string(goDirective[1]) || tag[2] != string(goDirective[2]) {
		t.Errorf("build stage uses Go %s.%s; go.mod says go %s.%s", tag[1], tag[2], goDirective[1], goDirective[2])
	}
	if tag[3] != "" && string(goDirective[3]) != "" {
		if patch, min := atoi(t, tag[3]), atoi(t, string(goDirective[3])); patch < min {
			t.Errorf("build stage pins Go %s.%s.%s, older than go.mod's %s", tag[1], tag[2], tag[3], goDirective[0])
		}
	}

	// The flags: the same words as make build's, with the version from the
	// build argument VERSION (declared in this stage, or the shell sees
	// nothing) where make has $(VERSION).
	env := map[string]string{}
	cgo := false
	for _, in := range build.instructions {
		switch in[0] {
		case "ARG":
			name, _, _ := strings.Cut(in[1], "=")
			if name == "VERSION" {
				env["VERSION"] = versionPlaceholder
			}
		case "ENV":
			cgo = cgo || regexp.MustCompile(`(^|\s)CGO_ENABLED=1(\s|$)`).MatchString(in[1])
		}
	}
	cgo = cgo || regexp.MustCompile(`(^|\s)CGO_ENABLED=1\s`).MatchString(buildRun)
	if !cgo {
		t.Error("the build stage does not set CGO_ENABLED=1; the SQLite driver needs cgo")
	}
	got := goBuildFlags(shellWords(t, buildRun, env))
	want := makeBuildFlags(t)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("Dockerfile builds with\n\t%q\nmake build with\n\t%q", got, want)
	}

	// The runtime stage: the binary as entry point, the working directory a
	// volume (the default SQLite file is relative to it), certificates for
	// https feeds.
	final := stages[len(stages)-1]
	if final.from != "debian:bookworm-slim" {
		t.Errorf("runtime stage FROM %s, want debian:bookworm-slim (the build stage's glibc)", final.from)
	}
	got1 := map[string]string{}
	for _, in := range final.instructions {
		got1[in[0]] += in[1] + "\n"
	}
	for kw, want := range map[string]*regexp.Regexp{
		"RUN":        regexp.MustCompile(`apt-get install .*ca-certificates`),
		"COPY":       regexp.MustCompile(`^--from=\S+ \S+ /usr/local/bin/trafficctl$`),
		"WORKDIR":    regexp.MustCompile(`^/data$`),
		"VOLUME":     regexp.MustCompile(`^(/data|\["/data"\])$`),
		"ENTRYPOINT": regexp.MustCompile(`^\["/usr/local/bin/trafficctl"\]$`),
	} {
		if !want.MatchString(strings.TrimSpace(got1[kw])) {
			t.Errorf("runtime stage %s %q does not match %s", kw, strings.TrimSpace(got1[kw]), want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMakeBuildAndDistBuildAlike(t *testing.T) {
	if len(makeBuildFlags(t)) == 0 {
		t.Fatal("make build passes no flags to go build")
	}
	// dist's go build sits in a shell loop with $$ variables, so compare
	// the unexpanded words between "$(GO) build" and -o.
	goBuild := regexp.MustCompile(`\$\(GO\) build (.*?) -o `)
	build := goBuild.FindStringSubmatch(strings.Join(makeRecipe(t, "build"), "\n"))
	dist := goBuild.FindAllStringSubmatch(strings.Join(makeRecipe(t, "dist"), "\n"), -1)
	if build == nil || len(dist) != 1 {
		t.Fatalf("want one $(GO) build ... -o in each of make build (%q) and make dist (%q)", build, dist)
	}
	if dist[0][1] != build[1] {
		t.Errorf("make dist builds with %q, make build with %q", dist[0][1], build[1])
	}
}

func TestGitHubActionsExampleFetchesOnASchedule(t *testing.T) {
	b, err := os.ReadFile("deploy/github-actions/collect.yml")
	if err != nil {
		t.Fatal(err)
	}
	// "on" is a YAML 1.1 boolean to some parsers; yaml.v3 reads it as the
	// string GitHub means.
	var wf struct {
		On          map[string]yaml.Node `yaml:"on"`
		Concurrency struct {
			Group            string
			CancelInProgress bool `yaml:"cancel-in-progress"`
		}
		Jobs map[string]struct {
			Steps []struct {
				Name string
				Uses string
				With map[string]string
				Env  map[string]string
				Run  string
			}
		}
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("collect.yml does not parse: %v", err)
	}
	var schedule []struct{ Cron string }
	if node, ok := wf.On["schedule"]; ok {
		if err := node.Decode(&schedule); err != nil {
			t.Fatalf("on.schedule: %v", err)
		}
	}
	if len(schedule) != 1 || schedule[0].Cron != "*/15 * * * *" {
		t.Errorf("schedule %+v, want one, every 15 minutes", schedule)
	}
	if _, ok := wf.On["workflow_dispatch"]; !ok {
		t.Error("collect.yml cannot be started by hand (workflow_dispatch)")
	}
	if wf.Concurrency.Group == "" || wf.Concurrency.CancelInProgress {
		t.Errorf("concurrency %+v: runs must queue, one at a time, not cancel each other", wf.Concurrency)
	}
	var fetches, setupGo int
	for _, job := range wf.Jobs {
		for _, step := range job.Steps {
			if strings.HasPrefix(step.Uses, "actions/setup-go@") && step.With["go-version-file"] == "go.mod" {
				setupGo++
			}
			if regexp.MustCompile(`(^|[\s/])trafficctl fetch(\s|$)`).MatchString(step.Run) {
				fetches++
				if step.Env["TRAFFICCTL_API_KEY"] != "${{ secrets.TRAFFICCTL_API_KEY }}" {
					t.Errorf("step %q takes the key from %q, want the secret TRAFFICCTL_API_KEY", step.Name, step.Env["TRAFFICCTL_API_KEY"])
				}
			}
		}
	}
	if setupGo != 1 {
		t.Errorf("%d setup-go steps with go-version-file: go.mod, want 1", setupGo)
	}
	if fetches != 1 {
		t.Errorf("%d steps run trafficctl fetch, want 1", fetches)
	}
}
