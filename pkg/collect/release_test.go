package collect_test

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// The release daf2146 (migrations up to 0003_views) collected three feeds
// into testdata/upgrade/daf2146.db and exported every table in every format
// into testdata/upgrade/daf2146/TABLE.FORMAT (scripts/release-fixture.sh).
const (
	release        = "daf2146"
	releaseSchema  = "0003_views"
	releaseFixture = "../../testdata/upgrade/" + release + ".db"
)

// TestUpgradedReleaseExportsTheReleaseBytes: a database daf2146 made,
// migrated by this trafficctl, exports every table in every format byte for
// byte as that release did, but for the columns added since (added, the
// new columns' values are checked in their own tests). An upgrade loses or
// alters nothing collected.
func TestUpgradedReleaseExportsTheReleaseBytes(t *testing.T) {
	goldens, _ := filepath.Glob("../../testdata/upgrade/" + release + "/*.*")
	if len(goldens) < 15 {
		t.Fatalf("%d exports of the release in testdata/upgrade/%s; run scripts/release-fixture.sh", len(goldens), release)
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := releaseDatabaseAt(t, releaseFixture, dbURL, releaseSchema)
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, golden := range goldens {
			table, format, _ := strings.Cut(filepath.Base(golden), ".")
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			opts := export.Options{Table: table, Format: export.Format(format), Series: store.Series{Every: store.DefaultEvery, By: store.ByNone}}
			if _, err := export.Write(ctx, st, opts, &got); err != nil {
				t.Errorf("export %s as %s: %v", table, format, err)
				continue
			}
			switch format {
			case string(export.Parquet):
				if diff := parquetDifference(got.Bytes(), want); diff != "" {
					t.Errorf("export %s as parquet: %s", table, diff)
				}
			case string(export.CSV):
				if diff := csvDifference(got.Bytes(), want); diff != "" {
					t.Errorf("export %s as csv: %s", table, diff)
				}
			default: // JSON Lines, GeoJSON
				if g := withoutAdded(got.Bytes()); !bytes.Equal(g, want) {
					t.Errorf("export %s as %s: %s", table, format, firstDifference(g, want))
				}
			}
		}
	})
}

// added are the columns the exports gained after the release: the
// vocabulary of 0006_vocabulary. They hold text in every table.
var added = []string{"category", "impact", "road", "direction"}

// addedMember is a member of added in a JSON object as the exports write
// it, with the comma after it.
var addedMember = regexp.MustCompile(`"(?:` + strings.Join(added, "|") + `)":"(?:[^"\\]|\\.)*",`)

// withoutAdded is a JSON Lines or GeoJSON export without the added members
// of its rows; raw, the feed's own object (last in a JSON Lines row, not
// in GeoJSON), keeps its members of those names.
func withoutAdded(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		row, raw, _ := bytes.Cut(l, []byte(`,"raw":`))
		if len(raw) > 0 {
			raw = append([]byte(`,"raw":`), raw...)
		}
		lines[i] = append(addedMember.ReplaceAll(row, nil), raw...)
	}
	return bytes.Join(lines, []byte("\n"))
}

// csvDifference compares two CSV exports record by record (fields read
// back exactly), got without the added columns.
func csvDifference(got, want []byte) string {
	read := func(b []byte) [][]string {
		r := csv.NewReader(bytes.NewReader(b))
		r.FieldsPerRecord = -1
		records, err := r.ReadAll()
		if err != nil || len(records) == 0 {
			return nil
		}
		return records
	}
	g, w := read(got), read(want)
	if g == nil || w == nil {
		return "not CSV with a header"
	}
	var keep []int
	for i, name := range g[0] {
		if !slices.Contains(added, name) {
			keep = append(keep, i)
		}
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d records, want %d", len(g), len(w))
	}
	for i := range g {
		row := make([]string, len(keep))
		for j, k := range keep {
			row[j] = g[i][k]
		}
		if !slices.Equal(row, w[i]) {
			return fmt.Sprintf("record %d differs:\n got %.300q\nwant %.300q", i+1, row, w[i])
		}
	}
	if !bytes.HasSuffix(got, []byte("\r\n")) || bytes.Count(got, []byte("\r\n")) < len(g) {
		return "records do not end with CRLF"
	}
	return ""
}

// firstDifference says where got first differs from want, line by line.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range min(len(g), len(w)) {
		if !bytes.Equal(g[i], w[i]) {
			return fmt.Sprintf("line %d differs:\n got %.300q\nwant %.300q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// parquetDifference compares two Parquet files byte for byte except for the
// footer's created_by, which parquet-go takes from the binary's build
// information (a test binary has none): the data pages must be the same
// bytes, and the footer the same metadata (schema, row groups, offsets,
// statistics, GeoParquet's "geo"). When got has added columns, its other
// columns must hold the same rows instead, with the same "geo".
func parquetDifference(got, want []byte) string {
	if diff, done := parquetWithAdded(got, want); done {
		return diff
	}
	gotData, gotMeta, err := parquetParts(got)
	if err != nil {
		return err.Error()
	}
	wantData, wantMeta, err := parquetParts(want)
	if err != nil {
		return "the release's file: " + err.Error()
	}
	if !bytes.Equal(gotData, wantData) {
		return fmt.Sprintf("the data pages differ (%d bytes, want %d)", len(gotData), len(wantData))
	}
	if !reflect.DeepEqual(gotMeta, wantMeta) {
		return fmt.Sprintf("the footers differ:\n got %+v\nwant %+v", gotMeta, wantMeta)
	}
	return ""
}

// parquetParts splits a Parquet file into what comes before its footer and
// the footer's metadata without created_by.
func parquetParts(b []byte) ([]byte, format.FileMetaData, error) {
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, format.FileMetaData{}, err
	}
	footer := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	meta := *f.Metadata()
	meta.CreatedBy = ""
	return b[:len(b)-8-footer], meta, nil
}

// parquetWithAdded compares got, if it has added columns, with want on
// want's columns: their names and order, every row's values, and the
// footer's "geo". done is false when got has no added column.
func parquetWithAdded(got, want []byte) (diff string, done bool) {
	open := func(b []byte) (*parquet.File, [][]string) {
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, nil
		}
		return f, f.Schema().Columns()
	}
	g, gCols := open(got)
	w, wCols := open(want)
	if g == nil || w == nil {
		return "not Parquet", true
	}
	from := map[int]int{} // got's column index -> want's
	var names []string
	for i, c := range gCols {
		if len(c) == 1 && slices.Contains(added, c[0]) {
			continue
		}
		from[i] = len(names)
		names = append(names, strings.Join(c, "."))
	}
	if len(from) == len(gCols) {
		return "", false
	}
	var wantNames []string
	for _, c := range wCols {
		wantNames = append(wantNames, strings.Join(c, "."))
	}
	if !slices.Equal(names, wantNames) {
		return fmt.Sprintf("columns %v, want %v", names, wantNames), true
	}
	gGeo, _ := g.Lookup("geo")
	wGeo, _ := w.Lookup("geo")
	if gGeo != wGeo {
		return fmt.Sprintf("geo metadata %.300s, want %.300s", gGeo, wGeo), true
	}
	gRows, wRows := parquetRows(g), parquetRows(w)
	if len(gRows) != len(wRows) {
		return fmt.Sprintf("%d rows, want %d", len(gRows), len(wRows)), true
	}
	for i, row := range gRows {
		var kept parquet.Row
		for _, v := range row {
			if to, ok := from[v.Column()]; ok {
				kept = append(kept, v.Level(v.RepetitionLevel(), v.DefinitionLevel(), to))
			}
		}
		if !kept.Equal(wRows[i]) {
			return fmt.Sprintf("row %d differs:\n got %v\nwant %v", i+1, kept, wRows[i]), true
		}
	}
	return "", true
}

// parquetRows reads every row of f, row group by row group.
func parquetRows(f *parquet.File) []parquet.Row {
	var out []parquet.Row
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 64)
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				out = append(out, r.Clone())
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return out
}
