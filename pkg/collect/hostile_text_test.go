package collect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/feedtest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// hostileID is an id of n printable bytes that do not compress (PostgreSQL
// compresses index entries, so a repeated letter would fit its btree).
func hostileID(n int) string {
	rng := rand.New(rand.NewPCG(14, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('!' + rng.IntN('~'-'!'))
		if b[i] == '"' || b[i] == '\\' {
			b[i] = 'q'
		}
	}
	return string(b)
}

var (
	longID    = hostileID(5000)                       // the btree limit is about 2,700 bytes
	overID    = "x/" + strings.Repeat("é", 127)       // 256 bytes, 129 characters: skipped
	exactID   = "x/" + strings.Repeat("é", 126) + "a" // 255 bytes: kept
	hostileOK = []string{"hostile/nul", "hostile/utf8", "hostile/\uFFFDid", exactID, "latin1/1", "fallback/1"}
)

// hostilePages is one snapshot of three pages with every kind of text that
// PostgreSQL refuses and SQLite takes: NUL (\u0000) in typed fields, in
// nested raw strings, in keys and in a geometry; invalid UTF-8 bytes in the
// same places and in an id; a page in Latin-1; a page that only the
// encoding/json fallback (decodePage) reads; ids over MaxIDBytes; and a
// number jsonb cannot hold.
func hostilePages() [][]byte {
	page1 := `{"events":[
{"id":"hostile/nul","headline":"Crash\u0000 on I-80","description":"a\u0000b","status":"ACTIVE\u0000","event_type":"INCIDENT","severity":"Major",
 "event_subtypes":["X\u0000Y","Z"],"roads":[{"name":"I-80\u0000","direction":"N\u0000"}],"areas":[{"name":"Oak\u0000land"}],
 "created":"2021-04-15T17:00:00Z","extra":{"k\u0000ey":"v\u0000","list":["\u0000"]},"k\u0000":1,"k":2,"\u0000":"only NUL",
 "geography":{"type":"LineString","coordinates":[[-122.1,37.1],[-122.2,37.2,"z\u0000"]]}},
{"id":"hostile/utf8","headline":"Caf` + "\xe9 \xff\xfe" + `","description":"` + "\xc3\x28 \xed\xa0\x80" + `","event_type":"INCIDENT",
 "roads":[{"name":"Stra` + "\xdf" + `e","direction":"` + "\xfe" + `"}],"` + "\xffkey" + `":"` + "\xfe" + `","` + "\xfekey" + `":"second",
 "geography":{"type":"LineString","coordinates":[[-122.3,37.3],[-122.4,37.4,"` + "\xff" + `"]]}},
{"id":"hostile/` + "\xff" + `\u0000id","headline":"an id with a bad byte and a NUL"},
{"id":"` + longID + `","headline":"an id of 5,000 bytes"},
{"id":"` + overID + `","headline":"an id of 256 bytes"},
{"id":"` + exactID + `","headline":"an id of 255 bytes"},
{"id":"hostile/number","headline":"a number jsonb cannot hold","n":1e-20000}
],"pagination":{"offset":0,"next_url":"/traffic/events?offset=7"}}`
	// Latin-1, as some servers send whatever their charset header says.
	page2 := `{"events":[{"id":"latin1/1","headline":"Stra` + "\xdf" + `e gesperrt","description":"Caf` + "\xe9 \xe0 Montr\xe9al" + `",
 "roads":[{"name":"Rue Sainte-Th` + "\xe9r\xe8" + `se","direction":"Nord"}],"areas":[{"name":"Qu` + "\xe9" + `bec"}]}],
 "pagination":{"offset":7,"next_url":"/traffic/events?offset=8"}}`
	// Two "events" members: readEnvelope refuses the page and decodePage
	// (encoding/json) reads it; the last list counts.
	page3 := `{"events":[],"events":[{"id":"fallback/1","headline":"fall\u0000back ` + "\xff" + `","` + "k\xff" + `":"\u0000",
 "geography":{"type":"Point","coordinates":[-122.5,37.5]}}],"pagination":{"offset":8,"next_url":null}}`
	return [][]byte{[]byte(page1), []byte(page2), []byte(page3)}
}

// fetchHostile fetches the hostile snapshot into dbURL twice (the second
// run must find every event unchanged) and returns the exports of every
// table as JSON Lines.
func fetchHostile(t *testing.T, dbURL string) map[string][]string {
	t.Helper()
	srv := feedtest.New()
	defer srv.Close()
	pages := hostilePages()
	if err := srv.SetBodies(pages...); err != nil {
		t.Fatal(err)
	}
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, page int) bool {
		if page != 1 {
			return false
		}
		w.Header().Set("Content-Type", "application/json; charset=iso-8859-1")
		w.Write(pages[1])
		return true
	})
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := time.Date(2021, 4, 15, 17, 10, 0, 0, time.UTC)
	for run := 1; run <= 2; run++ {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		now := clock.Add(time.Duration(run) * 10 * time.Minute)
		sum, err := collect.Run(ctx, collect.Params{
			Feed:     &open511.Feed{URL: srv.URL(), PageSize: 6, Source: &source.Client{Timeout: 5 * time.Second}, Logger: log},
			FeedName: store.DefaultFeed, Store: st, Now: func() time.Time { return now }, Version: "test",
			SourceURL: "http://feed.test/traffic/events", Deadline: time.Minute, Logger: log,
		})
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, logs.String())
		}
		want := collect.Summary{Feed: store.DefaultFeed, RunID: int64(run), Status: store.RunSucceeded, Pages: 3,
			Received: len(hostileOK) + 3, Skipped: 3, RunCounts: store.RunCounts{New: len(hostileOK)}}
		if run == 2 {
			want.RunCounts = store.RunCounts{Unchanged: len(hostileOK)}
		}
		sum.Duration = 0
		if sum != want {
			t.Fatalf("run %d: %+v, want %+v\n%s", run, sum, want, logs.String())
		}
		for _, reason := range []string{"event id of 5000 bytes is longer than 255", "event id of 256 bytes is longer than 255",
			"event hostile/number: a number beyond PostgreSQL's numeric range"} {
			if !strings.Contains(logs.String(), "skipping event") || !strings.Contains(logs.String(), reason) {
				t.Errorf("run %d: no warning %q:\n%s", run, reason, logs.String())
			}
		}
	}
	out := map[string][]string{}
	for _, table := range []string{export.Events, export.Versions, export.Snapshots, export.Runs} {
		var buf bytes.Buffer
		if _, err := export.Write(ctx, st, export.Options{Table: table, Format: export.JSONL}, &buf); err != nil {
			t.Fatalf("export %s: %v", table, err)
		}
		out[table] = strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	}
	return out
}

// normalRow is a JSONL row with every value in canonical JSON: PostgreSQL's
// jsonb prints raw with spaces and its own key order (and would keep only
// the last of repeated keys, which SQLite's text keeps). The times of a
// run, which the real clock sets, are left out.
func normalRow(t *testing.T, line string) map[string]string {
	t.Helper()
	var row map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &row); err != nil {
		t.Fatalf("not JSON: %v: %q", err, line)
	}
	out := map[string]string{}
	for k, v := range row {
		if k == "finished_at" {
			continue
		}
		c, err := traffic.Canonical(v)
		if err != nil {
			t.Fatalf("%s of %q: %v", k, line, err)
		}
		out[k] = string(c)
	}
	return out
}

// TestHostileTextGivesTheSameRowsOnBothDialects: a snapshot with NUL,
// invalid UTF-8, Latin-1 and ids too long for a key is collected through
// the real fetch path on SQLite and PostgreSQL: both runs succeed, the two
// ids over 255 bytes are skipped and counted, and every table exports the
// same rows, raw included, all of it valid text without NUL. An event
// with a number that jsonb cannot hold is skipped on both.
func TestHostileTextGivesTheSameRowsOnBothDialects(t *testing.T) {
	exports := map[string]map[string][]string{}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		got := fetchHostile(t, dbURL)
		checkHostileExport(t, got, strings.HasSuffix(t.Name(), "sqlite"))
		exports[path.Base(t.Name())] = got
	})
	lite, pg := exports["sqlite"], exports["postgres"]
	if lite == nil || pg == nil {
		return // a subtest failed or was skipped, and says so
	}
	for _, table := range []string{export.Events, export.Versions, export.Snapshots, export.Runs} {
		a, b := lite[table], pg[table]
		if len(a) != len(b) {
			t.Errorf("%s: %d rows on SQLite, %d on PostgreSQL", table, len(a), len(b))
			continue
		}
		// Sorted: the order of ids may follow PostgreSQL's collation.
		var na, nb []string
		for i := range a {
			ja, _ := json.Marshal(normalRow(t, a[i]))
			jb, _ := json.Marshal(normalRow(t, b[i]))
			na, nb = append(na, string(ja)), append(nb, string(jb))
		}
		slices.Sort(na)
		slices.Sort(nb)
		for i := range na {
			if na[i] != nb[i] {
				t.Errorf("%s differs:\nSQLite     %s\nPostgreSQL %s", table, na[i], nb[i])
			}
		}
	}
}

// checkHostileExport checks one dialect's export: which events are there,
// their cleaned text, and that raw is valid, NUL-free canonical JSON.
func checkHostileExport(t *testing.T, got map[string][]string, sqlite bool) {
	t.Helper()
	for table, lines := range got {
		for _, line := range lines {
			if !utf8.ValidString(line) || strings.Contains(line, `\u0000`) || strings.Contains(line, "\x00") {
				t.Errorf("%s: a row with invalid text or NUL: %q", table, line)
			}
		}
	}
	events := map[string]map[string]any{}
	for _, line := range got[export.Events] {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		events[row["id"].(string)] = row
		var raws struct{ Raw json.RawMessage }
		if err := json.Unmarshal([]byte(line), &raws); err != nil {
			t.Fatal(err)
		}
		// Keys made alike by cleaning are one key, and the feed's last one
		// counts, as for any repeated key.
		if row["id"] == "hostile/nul" {
			if k := row["raw"].(map[string]any)["k"]; k != 2.0 {
				t.Errorf("raw of hostile/nul has k = %v, want 2 (the feed's last): %s", k, raws.Raw)
			}
		}
		// SQLite keeps raw as written: canonical, so no key twice.
		// (PostgreSQL's jsonb prints it in its own way.)
		if c, _ := traffic.Canonical(raws.Raw); sqlite && string(c) != string(raws.Raw) {
			t.Errorf("raw of %s is not canonical (a key twice?): %s", row["id"], raws.Raw)
		}
	}
	var ids []string
	for id := range events {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := slices.Sorted(slices.Values(hostileOK))
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("events %q, want %q", ids, want)
	}
	for id, fields := range map[string]map[string]any{
		"hostile/nul": {"headline": "Crash on I-80", "description": "ab", "status": "ACTIVE", "event_subtypes": "XY; Z",
			"roads": "I-80 (N)", "areas": "Oakland"},
		"hostile/utf8": {"headline": "Caf\uFFFD \uFFFD\uFFFD", "description": "\uFFFD( \uFFFD\uFFFD\uFFFD", "roads": "Stra\uFFFDe (\uFFFD)"},
		"latin1/1":     {"headline": "Stra\uFFFDe gesperrt", "description": "Caf\uFFFD \uFFFD Montr\uFFFDal", "areas": "Qu\uFFFDbec"},
		"fallback/1":   {"headline": "fallback \uFFFD", "lat": 37.5},
	} {
		for k, v := range fields {
			if got := events[id][k]; got != v {
				t.Errorf("%s %s = %q, want %q", id, k, got, v)
			}
		}
	}
	if g := fmt.Sprint(events["hostile/utf8"]["geometry"]); g != "map[coordinates:[[-122.3 37.3] [-122.4 37.4 \uFFFD]] type:LineString]" {
		t.Errorf("hostile/utf8 geometry %s", g)
	}
}
