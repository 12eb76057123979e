package export

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/valyala/fastjson"
)

// Parquet is Apache Parquet: typed, nullable columns compressed with zstd,
// and GeoParquet 1.1 metadata for tables with a geometry column.
const Parquet Format = "parquet"

// GeometryColumn is the column written as GeoParquet's WKB geometry (its
// GeoJSON text follows it as GeometryColumn+"_geojson").
const GeometryColumn = "geometry"

// Row groups end at whichever limit comes first. Each row group's pages
// are held in memory until it is written, so these bound the memory of an
// export whatever its length; 128Ki rows is about what DuckDB and Polars
// read in one piece. (Variables for the tests.)
var (
	rowGroupRows  = 128 << 10
	rowGroupBytes = 48 << 20 // cell bytes as received, before encoding and zstd
)

const (
	// A text column is dictionary-encoded until its dictionary reaches this
	// size in a row group, then written plain: low-cardinality columns
	// (event_type, status, roads, and in snapshots every repeated event
	// field) stay dictionary-encoded, an all-distinct raw column falls back.
	dictionaryMaxBytes = 2 << 20
	// geometryCacheBytes bounds the GeoJSON and WKB kept for repeated
	// geometries: a snapshot export sees each event's geometry once per
	// run, and decoding it again each time would cost a fifth of the
	// export's time.
	geometryCacheBytes = 8 << 20
	// pageBytes ends a page of a text column once it holds this much text.
	// parquet-go sizes a dictionary-encoded page by its indexes (4 bytes a
	// value) and checks dictionaryMaxBytes only when a page ends, so a
	// column of distinct long values (raw) would otherwise grow its
	// dictionary to 100 MB before it fell back to plain.
	pageBytes = 1 << 20
	// Rows go to parquet-go a batch at a time, column by column, so that
	// it takes each column's values in one call; a page can end only
	// between batches.
	batchRows = 256
)

// parquetWriter writes the cells of each row as a Parquet row. The
// schema follows the columns: Int as INT64, Float as DOUBLE, Time as
// TIMESTAMP(MICROS, UTC), Text and JSON as UTF-8 strings; every column is
// optional, so NULL stays NULL and "" stays "".
type parquetWriter struct {
	out   io.Writer
	w     *parquet.GenericWriter[any]
	leaf  []int     // parquet column of each input column
	geom  int       // input column of the geometry, or -1
	batch *rowBatch // being filled

	// The encoder goroutine takes full batches from work, writes them with
	// w and gives them back on free; it owns w, text, rows and bytes
	// until done says it has finished, with its error.
	work, free chan *rowBatch
	done       chan error
	failed     atomic.Bool
	text       []int // per Parquet column, text bytes since its page began
	rows       int   // rows in the row group so far
	bytes      int   // cell bytes in the row group so far

	geo   geoStats
	json  fastjson.Parser
	cache map[string]geometry
	// cached is the bytes of GeoJSON and WKB in cache.
	cached int
}

func newParquetWriter(out io.Writer) *parquetWriter {
	return &parquetWriter{out: out, geom: -1}
}

// rowBatch is rows on their way to the encoder.
type rowBatch struct {
	vals  [][]parquet.Value // per Parquet column
	text  []int             // per Parquet column, bytes of text
	n     int               // rows
	bytes int               // cell bytes
}

func newRowBatch(columns int) *rowBatch {
	b := &rowBatch{vals: make([][]parquet.Value, columns), text: make([]int, columns)}
	for j := range b.vals {
		b.vals[j] = make([]parquet.Value, 0, batchRows)
	}
	return b
}

// columnNode is a Parquet group whose fields keep the order given:
// parquet.Group is a map and sorts its fields by name.
type columnNode struct{ fields []parquet.Field }

type columnField struct {
	parquet.Node
	name string
}

func (f columnField) Name() string { return f.name }
func (f columnField) Value(reflect.Value) reflect.Value {
	panic("export: values are written column by column, not from Go values")
}

func (n columnNode) ID() int                     { return 0 }
func (n columnNode) String() string              { return "trafficctl columns" }
func (n columnNode) Type() parquet.Type          { return parquet.Group{}.Type() }
func (n columnNode) Optional() bool              { return false }
func (n columnNode) Repeated() bool              { return false }
func (n columnNode) Required() bool              { return true }
func (n columnNode) Leaf() bool                  { return false }
func (n columnNode) Fields() []parquet.Field     { return n.fields }
func (n columnNode) Encoding() encoding.Encoding { return nil }
func (n columnNode) Compression() compress.Codec { return nil }
func (n columnNode) GoType() reflect.Type {
	panic("export: values are written column by column, not from Go values")
}

// parquetNode is the Parquet type of a column of kind k.
func parquetNode(k Kind) parquet.Node {
	switch k {
	case Int:
		return parquet.Leaf(parquet.Int64Type)
	case Float:
		return parquet.Leaf(parquet.DoubleType)
	case Time:
		return parquet.Timestamp(parquet.Microsecond) // isAdjustedToUTC
	case Bool:
		return parquet.Leaf(parquet.BooleanType)
	}
	return parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
}

func (p *parquetWriter) header(cols []Column) error {
	var fields []parquet.Field
	var blobs []string // columns whose min and max would mean nothing
	p.leaf = make([]int, len(cols))
	for i, c := range cols {
		p.leaf[i] = len(fields)
		if c.Name == GeometryColumn && c.Kind == JSON {
			p.geom = i
			wkbNode := parquet.Encoded(parquet.Leaf(parquet.ByteArrayType), &parquet.RLEDictionary)
			fields = append(fields,
				columnField{parquet.Optional(wkbNode), c.Name},
				columnField{parquet.Optional(parquetNode(Text)), c.Name + "_geojson"})
			blobs = append(blobs, c.Name, c.Name+"_geojson")
			continue
		}
		fields = append(fields, columnField{parquet.Optional(parquetNode(c.Kind)), c.Name})
		if c.Kind == JSON {
			blobs = append(blobs, c.Name)
		}
	}
	schema := parquet.NewSchema("trafficctl", columnNode{fields})
	options := []parquet.WriterOption{
		schema,
		parquet.Compression(newZstdCodec()),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.DataPageStatistics(false), // the column index has them
	}
	for _, name := range blobs {
		// Bounds of WKB or JSON text help no query and cost a comparison
		// per value.
		options = append(options, parquet.SkipPageBounds(name))
	}
	p.w = parquet.NewGenericWriter[any](p.out, options...)
	p.text = make([]int, len(fields))
	// Rows are read and turned into values on one goroutine and encoded
	// and compressed on another, so an export uses two cores: alone, the
	// encoding takes more time than reading the rows.
	p.batch = newRowBatch(len(fields))
	// Three batches: one filling, one encoding, one waiting between them.
	// free holds them all, so the encoder never waits to give one back.
	p.work, p.free, p.done = make(chan *rowBatch, 1), make(chan *rowBatch, 3), make(chan error, 1)
	p.free <- newRowBatch(len(fields))
	p.free <- newRowBatch(len(fields))
	go p.encode(p.work)
	return nil
}

func (p *parquetWriter) encode(work <-chan *rowBatch) {
	var err error
	for b := range work {
		if err == nil {
			if err = p.writeBatch(b); err != nil {
				p.failed.Store(true)
			}
		}
		for j := range b.vals {
			clear(b.vals[j]) // let the strings go
			b.vals[j] = b.vals[j][:0]
		}
		clear(b.text)
		b.n, b.bytes = 0, 0
		p.free <- b
	}
	p.done <- err
}

// stop ends the encoder and returns its error.
func (p *parquetWriter) stop() error {
	if p.work == nil {
		return nil
	}
	close(p.work)
	p.work = nil
	return <-p.done
}

// abort ends the encoder of a failed export.
func (p *parquetWriter) abort() { p.stop() }

// bytesOf is s without a copy: parquet-go copies values into its own
// buffers in WriteRowValues and never writes to them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (p *parquetWriter) row(cols []Column, cells []Cell) error {
	rb := p.batch
	b, text := rb.vals, rb.text
	size := 0
	for i := range cells {
		c, j := &cells[i], p.leaf[i]
		k := cols[i].Kind
		switch {
		case i == p.geom:
			if c.S == "" {
				b[j] = append(b[j], parquet.NullValue().Level(0, 0, j))
				b[j+1] = append(b[j+1], parquet.NullValue().Level(0, 0, j+1))
				continue
			}
			g, err := p.geometry(c.S)
			if err != nil {
				return err
			}
			b[j] = append(b[j], parquet.ByteArrayValue(g.wkb).Level(0, 1, j))
			b[j+1] = append(b[j+1], parquet.ByteArrayValue(bytesOf(c.S)).Level(0, 1, j+1))
			text[j] += len(g.wkb)
			text[j+1] += len(c.S)
			size += len(g.wkb) + len(c.S)
		case c.Null, k == JSON && c.S == "": // as in JSON Lines: no JSON is null
			b[j] = append(b[j], parquet.NullValue().Level(0, 0, j))
		case k == Int:
			b[j] = append(b[j], parquet.Int64Value(c.I).Level(0, 1, j))
		case k == Float:
			b[j] = append(b[j], parquet.DoubleValue(c.F).Level(0, 1, j))
		case k == Time:
			b[j] = append(b[j], parquet.Int64Value(c.T.UnixMicro()).Level(0, 1, j))
		case k == Bool:
			b[j] = append(b[j], parquet.BooleanValue(c.B).Level(0, 1, j))
		default:
			b[j] = append(b[j], parquet.ByteArrayValue(bytesOf(c.S)).Level(0, 1, j))
			text[j] += len(c.S)
			size += len(c.S)
		}
		size += 8
	}
	rb.n++
	rb.bytes += size
	if rb.n == batchRows {
		if p.failed.Load() {
			return p.stop() // the encoder's error
		}
		p.work <- rb
		p.batch = <-p.free
	}
	return nil
}

// writeBatch gives a batch of rows to the Parquet writer (on the encoder).
func (p *parquetWriter) writeBatch(b *rowBatch) error {
	for j, cw := range p.w.ColumnWriters() {
		if _, err := cw.WriteRowValues(b.vals[j]); err != nil {
			return err
		}
		p.text[j] += b.text[j]
		if p.text[j] >= pageBytes {
			p.text[j] = 0
			if err := cw.Flush(); err != nil {
				return err
			}
		}
	}
	p.rows += b.n
	p.bytes += b.bytes
	if p.rows >= rowGroupRows || p.bytes >= rowGroupBytes {
		// Long text (raw, descriptions) fills memory before the row count
		// does.
		p.rows, p.bytes = 0, 0
		clear(p.text)
		return p.w.Flush()
	}
	return nil
}

// geometry is one GeoJSON geometry as WKB, with what the geo metadata needs.
type geometry struct {
	wkb   []byte
	typ   string
	bound orb.Bound
}

func (p *parquetWriter) geometry(text string) (geometry, error) {
	if g, ok := p.cache[text]; ok {
		return g, nil
	}
	og, err := decodeGeoJSON(&p.json, text)
	if err != nil {
		return geometry{}, fmt.Errorf("geometry %.60s: %w", text, err)
	}
	b, err := wkb.Marshal(og)
	if err != nil {
		return geometry{}, fmt.Errorf("geometry %.60s as WKB: %w", text, err)
	}
	g := geometry{wkb: b, typ: og.GeoJSONType(), bound: og.Bound()}
	p.geo.add(g)
	size := len(text) + len(b) + 64 // and the map's own share, roughly
	if p.cache == nil || p.cached+size > geometryCacheBytes {
		p.cache, p.cached = map[string]geometry{}, 0
	}
	p.cache[text] = g
	p.cached += size
	return g, nil
}

func (p *parquetWriter) end() error {
	if p.batch.n > 0 {
		p.work <- p.batch
		p.batch = nil
	}
	if err := p.stop(); err != nil {
		return err
	}
	if p.geom >= 0 {
		meta, err := p.geo.metadata()
		if err != nil {
			return err
		}
		// The footer is written last, so types and bbox cover every row.
		p.w.SetKeyValueMetadata("geo", meta)
	}
	return p.w.Close()
}

// geoStats gathers the geometry types and the bounding box of a file.
type geoStats struct {
	types []string
	bound orb.Bound
	any   bool
}

func (s *geoStats) add(g geometry) {
	if !slices.Contains(s.types, g.typ) {
		s.types = append(s.types, g.typ)
	}
	if !s.any {
		s.bound, s.any = g.bound, true
	} else {
		s.bound = s.bound.Union(g.bound)
	}
}

// metadata is the GeoParquet 1.1 "geo" key. It has no crs: GeoParquet
// defines a missing crs as OGC:CRS84 (longitude, latitude on WGS 84),
// which is what GeoJSON positions are, and recommends leaving it out for
// the widest support.
func (s *geoStats) metadata() (string, error) {
	type column struct {
		Encoding      string    `json:"encoding"`
		GeometryTypes []string  `json:"geometry_types"`
		BBox          []float64 `json:"bbox,omitempty"`
	}
	types := slices.Clone(s.types)
	slices.Sort(types)
	if types == nil {
		types = []string{} // no geometry at all: types unknown
	}
	col := column{Encoding: "WKB", GeometryTypes: types}
	if s.any {
		col.BBox = []float64{s.bound.Min.X(), s.bound.Min.Y(), s.bound.Max.X(), s.bound.Max.Y()}
	}
	b, err := json.Marshal(map[string]any{
		"version":        "1.1.0",
		"primary_column": GeometryColumn,
		"columns":        map[string]column{GeometryColumn: col},
	})
	return string(b), err
}
