package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/replaytest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// TestViewsEqualTheExports: each view has the columns of its table's JSON
// Lines export, in the same order, then is_open, and the same rows with
// the same values (as text: times RFC 3339 UTC, numbers as the export
// writes them, JSON compared canonically), after replaying real snapshots
// of two feeds with a failed run, a gap, closed events and an empty
// snapshot.
func TestViewsEqualTheExports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := dbtest.Open(t, dbURL)
		replaytest.Replay(t, st, replaytest.Gappy())
		open := openRows(t, st)
		for _, c := range []struct {
			view, table, order string
		}{
			{store.EventsView, export.Events, "feed, id"},
			{store.VersionsView, export.Versions, "feed, event_id, version"},
			{store.SnapshotsView, export.Snapshots, "run_id, id"},
		} {
			t.Run(c.view, func(t *testing.T) {
				cols := append(export.Header(c.table, export.JSONL), export.Column{Name: "is_open"})
				want := exportRows(t, st, c.table, cols)
				got := viewRows(t, st, "SELECT * FROM "+c.view+" ORDER BY "+c.order, cols)
				if len(want) < 20 {
					t.Fatalf("only %d rows: the history tests nothing", len(want))
				}
				if len(got) != len(want) {
					t.Fatalf("%d rows in the view, %d in the export", len(got), len(want))
				}
				nOpen := 0
				for i := range want {
					want[i]["is_open"] = strconv.FormatBool(open.is(t, c.table, want[i]))
					if want[i]["is_open"] == "true" {
						nOpen++
					}
					if !reflect.DeepEqual(got[i], want[i]) {
						for _, col := range cols {
							if got[i][col.Name] != want[i][col.Name] {
								t.Errorf("row %d %s: view %.100q, export %.100q", i, col.Name, got[i][col.Name], want[i][col.Name])
							}
						}
						t.FailNow()
					}
				}
				if nOpen == 0 || nOpen == len(want) {
					t.Fatalf("%d of %d rows open: is_open is not tested", nOpen, len(want))
				}
			})
		}
	})
}

// openness is what is_open must be, from the exports alone.
type openness struct {
	latest map[string]string // feed → its latest successful run id
	spells map[string]int64  // feed and event id → the first run of its open spell
}

// openRows reads the runs and versions exports: a spell is open when it
// ends at its feed's latest successful run (one that ended earlier was
// ended by a successful run after it).
func openRows(t *testing.T, st *store.Store) openness {
	t.Helper()
	o := openness{latest: map[string]string{}, spells: map[string]int64{}}
	for _, r := range exportRows(t, st, export.Runs, export.Header(export.Runs, export.JSONL)) {
		if r["status"] == store.RunSucceeded {
			o.latest[r["feed"]] = r["id"]
		}
	}
	for _, v := range exportRows(t, st, export.Versions, export.Header(export.Versions, export.JSONL)) {
		if v["last_run_id"] == o.latest[v["feed"]] {
			first, _ := strconv.ParseInt(v["first_run_id"], 10, 64)
			o.spells[v["feed"]+" "+v["event_id"]] = first
		}
	}
	return o
}

// is says whether a row of an export is open: an event without closed_at,
// an open spell, or a snapshot row of an open spell.
func (o openness) is(t *testing.T, table string, row map[string]string) bool {
	switch table {
	case export.Events:
		return row["closed_at"] == "null"
	case export.Versions:
		return row["last_run_id"] == o.latest[row["feed"]]
	case export.Snapshots:
		first, ok := o.spells[row["feed"]+" "+row["id"]]
		run, err := strconv.ParseInt(row["run_id"], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return ok && run >= first
	}
	t.Fatalf("no is_open for %s", table)
	return false
}

// exportRows is a table's JSON Lines export, each value as text.
func exportRows(t *testing.T, st *store.Store, table string, cols []export.Column) []map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := export.Write(ctx, st, export.Options{Table: table, Format: export.JSONL}, &buf); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for _, c := range cols {
			v, ok := obj[c.Name]
			if !ok {
				continue // is_open
			}
			row[c.Name] = jsonText(t, c, v)
		}
		rows = append(rows, row)
	}
	return rows
}

func jsonText(t *testing.T, c export.Column, v json.RawMessage) string {
	if string(v) == "null" {
		return "null"
	}
	switch c.Kind {
	case export.Text, export.Time:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		return s
	case export.JSON:
		return canonical(t, v)
	}
	return string(v) // numbers and booleans as written
}

func canonical(t *testing.T, b []byte) string {
	t.Helper()
	out, err := traffic.Canonical(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return string(out)
}

// viewRows reads a query with database/sql, each value as text the way the
// export writes it. SQLite gives back a time as text when the column is an
// expression (COALESCE), and a boolean as 0 or 1.
func viewRows(t *testing.T, st *store.Store, query string, cols []export.Column) []map[string]string {
	t.Helper()
	rows, err := st.DB().Raw(query).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var want []string
	for _, c := range cols {
		want = append(want, c.Name)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("columns\n%v, want the export's\n%v", names, want)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []map[string]string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c.Name] = sqlText(t, c, vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqlText(t *testing.T, c export.Column, v any) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch v := v.(type) {
	case nil:
		return "null"
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		if c.Name == "is_open" { // SQLite has no boolean
			return strconv.FormatBool(v != 0)
		}
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case string:
		switch c.Kind {
		case export.Time:
			for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
				if tm, err := time.Parse(layout, v); err == nil {
					return tm.UTC().Format(time.RFC3339)
				}
			}
			t.Fatalf("%s: time %q", c.Name, v)
		case export.JSON:
			if v == "" {
				return "null" // no geometry: the export writes null
			}
			return canonical(t, []byte(v))
		}
		return v
	}
	t.Fatalf("%s: a %T", c.Name, v)
	return fmt.Sprint(v)
}
