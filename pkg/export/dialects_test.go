package export_test

import (
	"bytes"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/replaytest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// replayed is a new database of dbURL's kind holding replaytest.Gappy: real
// snapshots of two feeds, fetched through the real path.
func replayed(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s := dbtest.Open(t, dbURL)
	replaytest.Replay(t, s, replaytest.Gappy())
	return s
}

// TestJSONLIsTheSameOnBothDialects: the same history exports the same
// bytes from SQLite and PostgreSQL, raw included, although PostgreSQL's
// jsonb gives raw back in an order and spacing of its own. (The replay's
// clock is fixed, so run times are equal too; the runs table is left out
// only because its source_url names each replay's own local server.)
func TestJSONLIsTheSameOnBothDialects(t *testing.T) {
	pgURL := dbtest.Postgres(t) // skips without a server
	lite, pg := replayed(t, dbtest.SQLite(t)), replayed(t, pgURL)
	for _, table := range export.Tables {
		if table == export.Runs {
			continue
		}
		t.Run(table, func(t *testing.T) {
			a := write(t, lite, export.Options{Table: table, Format: export.JSONL})
			b := write(t, pg, export.Options{Table: table, Format: export.JSONL})
			if bytes.Equal(a, b) {
				return
			}
			la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
			for i := range min(len(la), len(lb)) {
				if !bytes.Equal(la[i], lb[i]) {
					at := 0
					for at < min(len(la[i]), len(lb[i])) && la[i][at] == lb[i][at] {
						at++
					}
					from := max(at-40, 0)
					t.Fatalf("line %d differs at byte %d:\nSQLite     …%.120s\nPostgreSQL …%.120s", i+1, at, la[i][from:], lb[i][from:])
				}
			}
			t.Fatalf("%d lines from SQLite, %d from PostgreSQL", len(la), len(lb))
		})
	}
}
