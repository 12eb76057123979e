package export_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// pqFile is a Parquet file read back with parquet-go.
type pqFile struct {
	file  *parquet.File
	names []string
	rows  []parquet.Row
}

func readParquet(t *testing.T, b []byte) pqFile {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Parquet does not open: %v", err)
	}
	out := pqFile{file: f}
	for _, field := range f.Schema().Fields() {
		out.names = append(out.names, field.Name())
	}
	r := parquet.NewReader(bytes.NewReader(b))
	defer r.Close()
	for {
		rows := make([]parquet.Row, 64)
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			out.rows = append(out.rows, row.Clone())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// parquetNames are the Parquet columns an export with these columns has:
// the same, with geometry_geojson after geometry.
func parquetNames(cols []export.Column) []string {
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
		if c.Name == export.GeometryColumn {
			names = append(names, "geometry_geojson")
		}
	}
	return names
}

// checkType says how a Parquet column's type differs from what its kind
// should give, or "".
func checkType(leaf parquet.Node, k export.Kind, geometry bool) string {
	if !leaf.Optional() {
		return "not optional"
	}
	typ, lt := leaf.Type(), ""
	if l := leaf.Type().LogicalType(); l != nil {
		lt = l.String()
	}
	switch {
	case geometry:
		if typ.Kind() != parquet.ByteArray || lt != "" {
			return "geometry is not plain binary: " + typ.String()
		}
	case k == export.Int:
		if typ.Kind() != parquet.Int64 {
			return "not INT64: " + typ.String()
		}
	case k == export.Float:
		if typ.Kind() != parquet.Double {
			return "not DOUBLE: " + typ.String()
		}
	case k == export.Time:
		if typ.Kind() != parquet.Int64 || lt != "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)" {
			return "not TIMESTAMP(MICROS, UTC): " + typ.String()
		}
	case k == export.Bool:
		if typ.Kind() != parquet.Boolean {
			return "not BOOLEAN: " + typ.String()
		}
	default:
		if typ.Kind() != parquet.ByteArray || lt != "STRING" {
			return "not a UTF-8 string: " + typ.String()
		}
	}
	return ""
}

// csvText is a Parquet value written as the CSV writes its kind.
func csvText(v parquet.Value, k export.Kind) string {
	switch {
	case v.IsNull():
		return ""
	case k == export.Int:
		return strconv.FormatInt(v.Int64(), 10)
	case k == export.Float:
		return strconv.FormatFloat(v.Double(), 'f', -1, 64)
	case k == export.Time:
		return time.UnixMicro(v.Int64()).UTC().Format(time.RFC3339)
	case k == export.Bool:
		return strconv.FormatBool(v.Boolean())
	}
	return string(v.ByteArray())
}

func parquetOf(t *testing.T, s *store.Store, opts export.Options) pqFile {
	t.Helper()
	opts.Format = export.Parquet
	return readParquet(t, write(t, s, opts))
}

func TestParquetMatchesCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := seed(t, dbURL)
		for _, table := range export.Tables {
			t.Run(table, func(t *testing.T) {
				header, rows := readCSV(t, write(t, s, export.Options{Table: table, Format: export.CSV}))
				lines := strings.Split(strings.TrimSuffix(string(write(t, s, export.Options{Table: table, Format: export.JSONL})), "\n"), "\n")
				pq := parquetOf(t, s, export.Options{Table: table})
				cols := export.Header(table, export.Parquet)
				wantRaw := table == export.Events || table == export.Versions // by default
				if got := slices.Contains(pq.names, "raw"); got != wantRaw {
					t.Errorf("raw column present %v, want %v", got, wantRaw)
				}
				if want := parquetNames(cols); !reflect.DeepEqual(pq.names, want) {
					t.Fatalf("Parquet columns %v, want %v", pq.names, want)
				}
				if len(pq.rows) != len(rows) || len(rows) != wantRows[table] || len(lines) != len(rows) {
					t.Fatalf("%d Parquet rows, %d CSV rows, %d JSON lines, want %d", len(pq.rows), len(rows), len(lines), wantRows[table])
				}
				fields := pq.file.Schema().Fields()
				var geometries []string // the CSV's, for the geo metadata
				for i, row := range pq.rows {
					var obj map[string]json.RawMessage
					if err := json.Unmarshal([]byte(lines[i]), &obj); err != nil {
						t.Fatal(err)
					}
					j := 0 // Parquet column
					for c, col := range cols {
						isGeom := col.Name == export.GeometryColumn
						if msg := checkType(fields[j], col.Kind, isGeom); msg != "" && i == 0 {
							t.Errorf("column %s: %s", col.Name, msg)
						}
						v := row[j]
						// NULL is NULL and "" is "": JSON Lines tells them apart.
						if null := string(obj[col.Name]) == "null"; v.IsNull() != null {
							t.Errorf("row %d %s: Parquet null %v, JSON %s", i+1, col.Name, v.IsNull(), obj[col.Name])
						}
						switch {
						case col.Name == "raw":
							if !v.IsNull() && string(v.ByteArray()) != string(obj["raw"]) {
								t.Errorf("row %d raw: Parquet %.80s, JSON Lines %.80s", i+1, v.ByteArray(), obj["raw"])
							}
						case isGeom:
							text := row[j+1]
							if v.IsNull() != text.IsNull() || csvText(text, export.Text) != rows[i][c] {
								t.Errorf("row %d geometry_geojson %q, CSV %q", i+1, text.ByteArray(), rows[i][c])
							}
							if !v.IsNull() {
								checkWKB(t, v.ByteArray(), rows[i][c])
								geometries = append(geometries, rows[i][c])
							}
							j++
						default:
							if got := csvText(v, col.Kind); got != rows[i][c] {
								t.Errorf("row %d %s: Parquet %q, CSV %q", i+1, col.Name, got, rows[i][c])
							}
						}
						j++
					}
				}
				geo, ok := pq.file.Lookup("geo")
				if g := slices.Index(header, export.GeometryColumn); g < 0 {
					if ok {
						t.Errorf("%s has no geometry but geo metadata %s", table, geo)
					}
					return
				}
				if !ok {
					t.Fatal("no geo metadata")
				}
				checkGeoMetadata(t, geo, geometries)
			})
		}
	})
}

// coords reads a GeoJSON geometry's type and every position, with
// encoding/json: independently of the exporter's decoder.
func coords(t *testing.T, text string) (typ string, positions [][2]float64) {
	t.Helper()
	var g struct {
		Type        string
		Coordinates any
	}
	if err := json.Unmarshal([]byte(text), &g); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		list := v.([]any)
		if _, leaf := list[0].(float64); leaf {
			positions = append(positions, [2]float64{list[0].(float64), list[1].(float64)})
			return
		}
		for _, x := range list {
			walk(x)
		}
	}
	walk(g.Coordinates)
	return g.Type, positions
}

// checkWKB decodes WKB and compares it with the GeoJSON of the same row.
func checkWKB(t *testing.T, b []byte, geojson string) {
	t.Helper()
	g, err := wkb.Unmarshal(b)
	if err != nil {
		t.Fatalf("WKB does not decode: %v", err)
	}
	typ, want := coords(t, geojson)
	var got [][2]float64
	switch g := g.(type) {
	case orb.Point:
		got = append(got, g)
	case orb.LineString:
		for _, p := range g {
			got = append(got, p)
		}
	case orb.MultiLineString:
		for _, l := range g {
			for _, p := range l {
				got = append(got, p)
			}
		}
	case orb.Polygon:
		for _, r := range g {
			for _, p := range r {
				got = append(got, p)
			}
		}
	default:
		t.Fatalf("WKB %s: add a case to this test", g.GeoJSONType())
	}
	if g.GeoJSONType() != typ || !reflect.DeepEqual(got, want) {
		t.Errorf("WKB %s %v, GeoJSON %s %v", g.GeoJSONType(), got, typ, want)
	}
}

func checkGeoMetadata(t *testing.T, geo string, geometries []string) {
	t.Helper()
	var meta struct {
		Version       string `json:"version"`
		PrimaryColumn string `json:"primary_column"`
		Columns       map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(geo), &meta); err != nil {
		t.Fatalf("geo metadata %s: %v", geo, err)
	}
	col := meta.Columns[export.GeometryColumn]
	if meta.Version != "1.1.0" || meta.PrimaryColumn != "geometry" || len(meta.Columns) != 1 || string(col["encoding"]) != `"WKB"` {
		t.Errorf("geo metadata %s", geo)
	}
	if _, ok := col["crs"]; ok {
		t.Errorf("crs %s: left out, it means OGC:CRS84", col["crs"])
	}
	var types []string
	bbox := []float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, g := range geometries {
		typ, positions := coords(t, g)
		if !slices.Contains(types, typ) {
			types = append(types, typ)
		}
		for _, p := range positions {
			bbox = []float64{min(bbox[0], p[0]), min(bbox[1], p[1]), max(bbox[2], p[0]), max(bbox[3], p[1])}
		}
	}
	sort.Strings(types)
	var gotTypes []string
	var gotBBox []float64
	json.Unmarshal(col["geometry_types"], &gotTypes)
	json.Unmarshal(col["bbox"], &gotBBox)
	if len(types) < 2 {
		t.Fatalf("the fixtures have geometry types %v: this test wants several", types)
	}
	if !reflect.DeepEqual(gotTypes, types) || !reflect.DeepEqual(gotBBox, bbox) {
		t.Errorf("geo metadata types %v bbox %v, want %v %v", gotTypes, gotBBox, types, bbox)
	}
}

func TestParquetRawFlags(t *testing.T) {
	s := seed(t, dbtest.SQLite(t))
	yes, no := true, false
	cases := []struct {
		table string
		raw   *bool
		want  bool
	}{
		{export.Events, nil, true},
		{export.Events, &no, false},
		{export.Snapshots, nil, false},
		{export.Snapshots, &yes, true},
		{export.Versions, &no, false},
		{export.Runs, &no, false},
	}
	for _, c := range cases {
		pq := parquetOf(t, s, export.Options{Table: c.table, Raw: c.raw})
		if got := slices.Contains(pq.names, "raw"); got != c.want {
			t.Errorf("%s with Raw %v: raw column %v, want %v", c.table, c.raw, got, c.want)
		}
		if c.want {
			for i, row := range pq.rows {
				if v := row[len(row)-1]; v.IsNull() || !json.Valid(v.ByteArray()) {
					t.Fatalf("%s row %d: raw %q is not JSON", c.table, i+1, v.ByteArray())
				}
			}
		}
	}
	if _, err := export.Write(ctx, s, export.Options{Table: export.Runs, Format: export.Parquet, Raw: &yes}, io.Discard); err == nil {
		t.Error("runs with raw: no error")
	}
}

func TestParquetOfNoRows(t *testing.T) {
	s := seed(t, dbtest.SQLite(t))
	for _, table := range export.Tables {
		pq := parquetOf(t, s, export.Options{Table: table, Filter: store.Filter{Since: t1.AddDate(1, 0, 0)}})
		if len(pq.rows) != 0 || len(pq.names) == 0 {
			t.Errorf("%s: %d rows, columns %v", table, len(pq.rows), pq.names)
		}
		if geo, ok := pq.file.Lookup("geo"); ok && !strings.Contains(geo, `"geometry_types":[]`) || strings.Contains(geo, "bbox") {
			t.Errorf("%s: geo metadata %s for no rows", table, geo)
		}
	}
}

func TestParquetIsCompressedWithZstd(t *testing.T) {
	s := seed(t, dbtest.SQLite(t))
	pq := parquetOf(t, s, export.Options{Table: export.Snapshots})
	dict := map[string]bool{}
	for _, rg := range pq.file.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec != format.Zstd {
				t.Errorf("column %v: codec %v", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
			for _, e := range c.MetaData.Encoding {
				if e == format.RLEDictionary {
					dict[c.MetaData.PathInSchema[0]] = true
				}
			}
		}
	}
	for _, name := range []string{"id", "event_type", "status", "geometry", "geometry_geojson"} {
		if !dict[name] {
			t.Errorf("%s is not dictionary-encoded", name)
		}
	}
}
