package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// awkward is text a feed may send that CSV must carry as it is: line
// breaks of both kinds and a lone CR, quotes, commas, what a spreadsheet
// would take for a formula, emoji and CJK, and white space at both ends.
const awkward = " Lane 1 closed\nLane 2 open\r\nsee \"detour\", then\rleft =HYPERLINK(\"http://x\",\"y\") 🚧🚗 高速道路 工事中 ,\n"

// fidelityStore holds two events: one whose headline and description are
// awkward, and one with an empty description and no geometry.
func fidelityStore(t *testing.T, dbURL string) *store.Store {
	t.Helper()
	s := dbtest.Open(t, dbURL)
	var events []traffic.Event
	for _, obj := range []map[string]any{
		{"id": "x/1", "headline": awkward, "description": awkward, "event_type": "INCIDENT",
			"geography": map[string]any{"type": "Point", "coordinates": []float64{-122.5, 37.75}}},
		{"id": "x/2", "headline": "plain", "description": ""},
	} {
		b, _ := json.Marshal(obj)
		e, _, err := open511.DecodeEvent(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	f, err := s.BeginRun(ctx, store.DefaultFeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(ctx, store.RunInfo{StartedAt: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)}, events); err != nil {
		t.Fatal(err)
	}
	return s
}

// readRFC4180 reads CSV exactly as RFC 4180 writes it, keeping every byte
// of a quoted field. encoding/csv's Reader cannot: it turns each "\r\n"
// inside a quoted field into "\n" (it says so in its documentation).
func readRFC4180(t *testing.T, b []byte) [][]string {
	t.Helper()
	var records [][]string
	var record []string
	var field []byte
	for i := 0; i < len(b); {
		if b[i] == '"' {
			for i++; ; i++ {
				if i >= len(b) {
					t.Fatal("unterminated quoted field")
				}
				if b[i] == '"' {
					if i+1 < len(b) && b[i+1] == '"' {
						field = append(field, '"')
						i++
						continue
					}
					i++
					break
				}
				field = append(field, b[i])
			}
		}
		for i < len(b) && b[i] != ',' && b[i] != '\r' {
			field = append(field, b[i])
			i++
		}
		record = append(record, string(field))
		field = field[:0]
		switch {
		case i < len(b) && b[i] == ',':
			i++
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			records = append(records, record)
			record = nil
			i += 2
		default:
			t.Fatalf("at byte %d: a record must end with CRLF", i)
		}
	}
	return records
}

func TestExportsKeepEveryByte(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := fidelityStore(t, dbURL)
		b := write(t, s, export.Options{Table: export.Events, Format: export.CSV})
		quoted := `"` + strings.ReplaceAll(awkward, `"`, `""`) + `"`
		if bytes.Count(b, []byte(","+quoted+",")) != 2 {
			t.Errorf("the CSV does not hold the headline and description byte for byte:\n%q", b)
		}
		records := readRFC4180(t, b)
		if len(records) != 3 {
			t.Fatalf("%d CSV records, want a header and 2 rows", len(records))
		}
		header := records[0]
		h, d := slices.Index(header, "headline"), slices.Index(header, "description")
		if got := records[1]; got[h] != awkward || got[d] != awkward || records[2][d] != "" {
			t.Errorf("CSV read back %q and %q, want %q", got[h], got[d], awkward)
		}
		// encoding/csv reads the same records, but for its documented
		// "\r\n" to "\n".
		std, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(awkward, "\r\n", "\n")
		if len(std) != 3 || std[1][h] != want || std[1][d] != want {
			t.Errorf("encoding/csv read %q", std)
		}

		lines := strings.Split(strings.TrimSuffix(string(write(t, s, export.Options{Table: export.Events, Format: export.JSONL})), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d JSON lines", len(lines))
		}
		var obj struct{ Headline, Description string }
		if err := json.Unmarshal([]byte(lines[0]), &obj); err != nil || obj.Headline != awkward || obj.Description != awkward {
			t.Errorf("JSON Lines read back %q and %q (%v)", obj.Headline, obj.Description, err)
		}

		// Parquet: the same bytes, "" as "" and NULL as null.
		pq := parquetOf(t, s, export.Options{Table: export.Events})
		if len(pq.rows) != 2 {
			t.Fatalf("%d Parquet rows", len(pq.rows))
		}
		ph, pd, lat := slices.Index(pq.names, "headline"), slices.Index(pq.names, "description"), slices.Index(pq.names, "lat")
		first, second := pq.rows[0], pq.rows[1]
		if string(first[ph].ByteArray()) != awkward || string(first[pd].ByteArray()) != awkward {
			t.Errorf("Parquet read back %q and %q", first[ph].ByteArray(), first[pd].ByteArray())
		}
		if v := second[pd]; v.IsNull() || len(v.ByteArray()) != 0 {
			t.Errorf("an empty description is %v in Parquet, want \"\"", v)
		}
		if v := second[lat]; !v.IsNull() {
			t.Errorf("lat of an event without geometry is %v in Parquet, want null", v)
		}
	})
}
