package cmd

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

func TestMain(m *testing.M) {
	// Process tests (signals, concurrency) run this test binary as trafficctl.
	if os.Getenv("TRAFFICCTL_TEST_AS_MAIN") == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	testscript.Main(withoutUserConfig{m}, map[string]func(){
		"trafficctl": func() { os.Exit(Main(os.Args[1:])) },
	})
}

// withoutUserConfig runs the tests without the trafficctl settings a
// developer's shell may hold, so that no test has to clear them itself
// (t.Setenv would forbid t.Parallel). Scripts and processes get only the
// variables they are given; in-process runs read no environment at all.
type withoutUserConfig struct{ m *testing.M }

func (w withoutUserConfig) Run() int {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == dbtest.EnvURL || name == "TRAFFICCTL_REQUIRE_POSTGRES":
		case strings.HasPrefix(name, "TRAFFICCTL_"), name == "DATABASE_URL", name == "FIVEONEONE_TOKEN":
			os.Unsetenv(name)
		}
	}
	return dbtest.Main(w.m)
}

// TestScripts runs the command tree end to end, as a user would, from
// testdata/script/*.txtar: once on SQLite and once on PostgreSQL.
func TestScripts(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			if db == "postgres" {
				dbtest.Postgres(t) // skips, or fails when PostgreSQL is required and missing
			}
			testscript.Run(t, scriptParams(db))
		})
	}
}

// TestScriptArchivesHoldNoCommands: everything after a script's first
// "-- name --" line is the content of files, so a command written there
// never runs and its assertion silently passes.
func TestScriptArchivesHoldNoCommands(t *testing.T) {
	scripts, err := filepath.Glob("testdata/script/*.txtar")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts found (%v)", err)
	}
	commands := map[string]bool{}
	for name := range scriptParams("sqlite").Cmds {
		commands[name] = true
	}
	for _, name := range strings.Fields("cd chmod cmp cmpenv cp env exec exists grep kill mkdir mv rm skip stderr stdin stdout stop symlink ttyin ttyout unix2dos unquote wait trafficctl") {
		commands[name] = true
	}
	// Conditions and an optional "!", then a command name.
	line := regexp.MustCompile(`^(?:(?:\[[^\]]*\]|!)\s*)*(\S+)`)
	for _, script := range scripts {
		a, err := txtar.ParseFile(script)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			for i, l := range strings.Split(string(f.Data), "\n") {
				if m := line.FindStringSubmatch(l); m != nil && commands[m[1]] {
					t.Errorf("%s: line %d of archive file %s is a command, which never runs: %q", script, i+1, f.Name, l)
				}
			}
		}
	}
}

const serverKey = "feed"

func scriptParams(db string) testscript.Params {
	fixtures, _ := filepath.Abs("../testdata")
	return testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			srv := feedtest.New()
			env.Defer(srv.Close)
			env.Values[serverKey] = srv
			env.Setenv("FEED_URL", srv.URL())
			env.Setenv("FIXTURES", fixtures)
			env.Setenv("TRAFFICCTL_SOURCE_URL", srv.URL())
			env.Setenv("TRAFFICCTL_SOURCE_RETRIES", "0")
			env.Setenv("DB", db)
			if db == "postgres" {
				u, drop, err := dbtest.CreatePostgres()
				if err != nil {
					return err
				}
				env.Defer(drop)
				env.Setenv("TRAFFICCTL_DATABASE_URL", u)
			}
			return nil
		},
		// [sqlite] and [postgres] say which database a script runs on.
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "sqlite", "postgres":
				return cond == db, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		// Each command either honours "!" or refuses it: a "!" that is
		// ignored turns an assertion into its opposite without a word.
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// feed FILE...: serve these fixture bodies (paths under testdata/).
			"feed": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg {
					ts.Fatalf("unsupported: ! feed")
				}
				if len(args) == 0 {
					ts.Fatalf("usage: feed FILE...")
				}
				srv := ts.Value(serverKey).(*feedtest.Server)
				paths := make([]string, len(args))
				for i, a := range args {
					paths[i] = filepath.Join(fixtures, a)
				}
				srv.SetFault(nil)
				ts.Check(srv.SetFiles(paths...))
			},
			// fault STATUS [PAGE]: answer with this HTTP status (on every
			// page, or on page PAGE only, counted from 1 as in the errors).
			"fault": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg {
					ts.Fatalf("unsupported: ! fault")
				}
				if len(args) < 1 || len(args) > 2 {
					ts.Fatalf("usage: fault STATUS [PAGE]")
				}
				code, err := strconv.Atoi(args[0])
				ts.Check(err)
				page := -1 // every page
				if len(args) > 1 {
					n, err := strconv.Atoi(args[1])
					ts.Check(err)
					if n < 1 {
						ts.Fatalf("fault: page %d: pages count from 1", n)
					}
					page = n - 1 // the feed server counts from 0
				}
				ts.Value(serverKey).(*feedtest.Server).SetFault(statusFault(code, page))
			},
			// rows N: the last stdout is CSV with a header and N records;
			// ! rows N: with a header and any other number of records.
			"rows": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: rows N")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				records, err := csv.NewReader(strings.NewReader(ts.ReadFile("stdout"))).ReadAll()
				if err != nil || len(records) == 0 {
					ts.Fatalf("stdout is not CSV with a header (%v)", err)
				}
				if got := len(records) - 1; (got == want) == neg {
					if neg {
						ts.Fatalf("%d CSV records, want any number but %d", got, want)
					}
					ts.Fatalf("%d CSV records, want %d", got, want)
				}
			},
			// dbexec SQL: run a statement on the script's database, as
			// another program (a newer trafficctl) would.
			"dbexec": func(ts *testscript.TestScript, neg bool, args []string) {
				u := ts.Getenv("TRAFFICCTL_DATABASE_URL")
				if u == "" {
					u = "sqlite:///" + ts.MkAbs("trafficctl.db")
				}
				st, err := store.Open(context.Background(), u)
				ts.Check(err)
				defer st.Close()
				ts.Check(st.DB().Exec(args[0]).Error)
			},
			// exits N PROGRAM ARGS...: run the program and require exit status N.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg {
					ts.Fatalf("unsupported: ! exits (say which status: exits N)")
				}
				if len(args) < 2 {
					ts.Fatalf("usage: exits N PROGRAM ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					got = exit.ExitCode()
				} else if err != nil {
					ts.Fatalf("exec %s: %v", args[1], err)
				}
				if got != want {
					ts.Fatalf("%s exited with %d, want %d", strings.Join(args[1:], " "), got, want)
				}
			},
		},
	}
}

func statusFault(code, onPage int) feedtest.Fault {
	return func(w http.ResponseWriter, r *http.Request, page int) bool {
		if onPage >= 0 && page != onPage {
			return false
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
		return true
	}
}
