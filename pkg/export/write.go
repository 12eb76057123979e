package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// Format is an output format.
type Format string

// Formats.
const (
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
	GeoJSON Format = "geojson"
)

// Options select what to export and how.
type Options struct {
	Table    string
	Format   Format
	Filter   store.Filter
	Raw      *bool            // include the raw column; nil: the format's default (see includeRaw)
	Progress func(rows int64) // called now and then with the rows written so far; may be nil
}

// rowWriter writes one format.
type rowWriter interface {
	header(cols []Column) error
	row(cols []Column, cells []Cell) error
	end() error
}

// Write streams a table to w and returns how many rows it wrote.
func Write(ctx context.Context, st *store.Store, opts Options, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var rw rowWriter
	switch opts.Format {
	case CSV, "":
		rw = &csvWriter{w: bw}
	case JSONL:
		rw = &jsonlWriter{w: bw}
	case GeoJSON:
		rw = &geojsonWriter{w: bw}
	case Parquet:
		rw = newParquetWriter(bw)
	default:
		return 0, fmt.Errorf("unknown format %q (use csv, jsonl, geojson or parquet)", opts.Format)
	}
	n, err := copyRows(ctx, st, opts, rw)
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// columns are the columns of an export and the filter that reads them.
func columns(opts Options) ([]Column, store.Filter, error) {
	cols := Header(opts.Table, CSV) // CSV's are the columns without raw
	if cols == nil {
		return nil, opts.Filter, fmt.Errorf("unknown table %q (use events, versions, runs or snapshots)", opts.Table)
	}
	if opts.Raw != nil && *opts.Raw && opts.Table == Runs {
		return nil, opts.Filter, fmt.Errorf("the runs table has no raw column")
	}
	if opts.Format == GeoJSON && !slices.ContainsFunc(cols, func(c Column) bool { return c.Name == GeometryColumn }) {
		return nil, opts.Filter, fmt.Errorf("the %s table has no geometry to write as GeoJSON (use csv, jsonl or parquet)", opts.Table)
	}
	f := opts.Filter
	f.WithRaw = includeRaw(opts.Table, opts.Format, opts.Raw)
	return withRaw(cols, f.WithRaw), f, nil
}

// copyRows streams the export's rows to rw.
func copyRows(ctx context.Context, st *store.Store, opts Options, rw rowWriter) (int64, error) {
	cols, f, err := columns(opts)
	if err != nil {
		return 0, err
	}
	if err := rw.header(cols); err != nil {
		return 0, err
	}
	var n int64
	err = stream(ctx, st, opts.Table, f, func(cells []Cell) error {
		if err := rw.row(cols, cells[:len(cols)]); err != nil {
			return err
		}
		n++
		if opts.Progress != nil && n%4096 == 0 {
			opts.Progress(n)
		}
		return nil
	})
	if err != nil {
		if a, ok := rw.(interface{ abort() }); ok {
			a.abort() // a writer with a goroutine of its own stops it
		}
		return n, err
	}
	if err := rw.end(); err != nil {
		return n, err
	}
	if opts.Progress != nil {
		opts.Progress(n)
	}
	return n, nil
}

// ToFile writes the export to path through a temporary file in the same
// folder and renames it into place only when everything was written, so a
// failed export never leaves a half-written file.
func ToFile(ctx context.Context, st *store.Store, opts Options, path string) (int64, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return toSpecial(ctx, st, opts, path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("export to %s: %w", path, unwrapPath(err))
	}
	n, err := Write(ctx, st, opts, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644) // CreateTemp makes it 0600; an export is ordinary data
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, fmt.Errorf("export to %s: %w", path, unwrapPath(err))
	}
	return n, nil
}

// toSpecial writes to a path that exists and is not a regular file (a
// device such as /dev/null, a named pipe) as it is: renaming a temporary
// file over it would replace it, and as root /dev/null would become a file.
func toSpecial(ctx context.Context, st *store.Store, opts Options, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("export to %s: %w", path, unwrapPath(err))
	}
	n, err := Write(ctx, st, opts, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("export to %s: %w", path, err)
	}
	return n, nil
}

// unwrapPath drops the temporary file's name from *PathError messages.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// appendCell writes a cell as CSV text.
func appendCell(b []byte, k Kind, c *Cell) []byte {
	if c.Null {
		return b
	}
	switch k {
	case Int:
		return strconv.AppendInt(b, c.I, 10)
	case Float:
		return strconv.AppendFloat(b, c.F, 'f', -1, 64) // shortest text that reads back the same
	case Time:
		return c.T.UTC().AppendFormat(b, time.RFC3339)
	default:
		return append(b, c.S...)
	}
}

// appendJSONObject writes cells as one JSON object: numbers as numbers,
// times as RFC 3339 strings, JSON columns nested, NULL as null.
func appendJSONObject(b []byte, cols []Column, cells []Cell, skip string) []byte {
	b = append(b, '{')
	first := true
	for i, col := range cols {
		if col.Name == skip {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, col.Name)
		b = append(b, ':')
		c := &cells[i]
		switch {
		case c.Null || (col.Kind == JSON && c.S == ""):
			b = append(b, "null"...)
		case col.Kind == Text:
			b = appendJSONString(b, c.S)
		case col.Kind == Time:
			b = append(b, '"')
			b = appendCell(b, Time, c)
			b = append(b, '"')
		case col.Kind == JSON:
			b = append(b, c.S...) // stored as JSON by trafficctl itself
		default:
			b = appendCell(b, col.Kind, c)
		}
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

type jsonlWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (j *jsonlWriter) header([]Column) error { return nil }

func (j *jsonlWriter) row(cols []Column, cells []Cell) error {
	j.buf = appendJSONObject(j.buf[:0], cols, cells, "")
	j.buf = append(j.buf, '\n')
	_, err := j.w.Write(j.buf)
	return err
}

func (j *jsonlWriter) end() error { return nil }

// geojsonWriter writes a FeatureCollection: the geometry column becomes each
// feature's geometry and the other columns its properties.
type geojsonWriter struct {
	w     *bufio.Writer
	buf   []byte
	geom  int
	count int64
}

func (g *geojsonWriter) header(cols []Column) error {
	g.geom = -1
	for i, c := range cols {
		if c.Name == "geometry" {
			g.geom = i
		}
	}
	_, err := g.w.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
	return err
}

func (g *geojsonWriter) row(cols []Column, cells []Cell) error {
	g.buf = g.buf[:0]
	if g.count > 0 {
		g.buf = append(g.buf, ",\n"...)
	}
	g.count++
	g.buf = append(g.buf, `{"type":"Feature","geometry":`...)
	if g.geom >= 0 && cells[g.geom].S != "" {
		g.buf = append(g.buf, cells[g.geom].S...)
	} else {
		g.buf = append(g.buf, "null"...)
	}
	g.buf = append(g.buf, `,"properties":`...)
	g.buf = appendJSONObject(g.buf, cols, cells, "geometry")
	g.buf = append(g.buf, '}')
	_, err := g.w.Write(g.buf)
	return err
}

func (g *geojsonWriter) end() error {
	_, err := g.w.WriteString("\n]}\n")
	return err
}
