package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
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

// Formats lists the output formats.
var Formats = []Format{CSV, JSONL, GeoJSON, Parquet}

// Options select what to export and how.
type Options struct {
	Table    string
	Format   Format
	Filter   store.Filter
	Raw      *bool            // include the raw column; nil: the format's default (see includeRaw)
	Progress func(rows int64) // called now and then with the rows written so far; may be nil
	Series   store.Series     // the interval and grouping of the counts table
}

// rowWriter writes one format.
type rowWriter interface {
	header(cols []Column) error
	row(cols []Column, cells []Cell) error
	end() error
}

// Write streams a table to w and returns how many rows it wrote.
func Write(ctx context.Context, st *store.Store, opts Options, w io.Writer) (int64, error) {
	if err := checkOptions(opts); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(ctxWriter{ctx, w}, 256<<10)
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

// ctxWriter gives up a write when ctx ends: a pipe whose reader stopped
// reading, or a FIFO, would otherwise block an export that SIGINT or
// SIGTERM cancelled. The write itself goes on in its goroutine until the
// process ends; w is not written to again.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.w.Write(p)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-c.ctx.Done():
		return 0, context.Cause(c.ctx)
	}
}

// columns are the columns of an export and the filter that reads them.
func columns(opts Options) ([]Column, store.Filter, error) {
	// CSV's are the columns without raw; counts' depend on --by.
	cols := Columns(Options{Table: opts.Table, Format: CSV, Series: opts.Series})
	if cols == nil {
		return nil, opts.Filter, fmt.Errorf("unknown table %q (use %s)", opts.Table, tableList())
	}
	if opts.Raw != nil && *opts.Raw && !includeRaw(opts.Table, JSONL, nil) {
		return nil, opts.Filter, fmt.Errorf("the %s table has no raw column", opts.Table)
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
	err = stream(ctx, st, opts, f, func(cells []Cell) error {
		// Some tables (counts) are computed rather than read: no driver
		// would notice that SIGINT or SIGTERM cancelled ctx.
		if n%1024 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
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

// ToFile writes the export to path and leaves path what it was. A regular
// file, or a name that does not exist yet, is written through a temporary
// file in the same folder and renamed into place only when everything was
// written, so a failed export never leaves a half-written file; an existing
// file keeps its permissions, a new one gets 0666 less the umask. A symlink
// is followed (even to a file that does not exist yet) and its target is
// replaced, so the link stays a link. A device or a FIFO (/dev/null, a
// named pipe) is written in place: renaming over it would replace it with
// a file. Errors name path as given, never the temporary file.
func ToFile(ctx context.Context, st *store.Store, opts Options, path string) (int64, error) {
	var n int64
	err := WriteFile(ctx, path, "export to", func(w io.Writer) (err error) {
		n, err = Write(ctx, st, opts, w)
		return err
	})
	return n, err
}

// WriteFile writes what write produces to path as ToFile writes an export:
// into a temporary file renamed over path once complete (with an old
// file's permissions), through symlinks, or in place into a device or a
// FIFO (whose wait for a reader ctx ends). Errors begin with what, then
// path as given: "export to out.csv: ...".
func WriteFile(ctx context.Context, path, what string, write func(io.Writer) error) error {
	fail := func(err error) error { return fmt.Errorf("%s %s: %w", what, path, unwrapPath(err)) }
	// Stat first, through the kernel: /dev/stdout's links through /proc
	// end at a pipe or a terminal that no path names.
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s %s: it is a folder; give a file name", what, path)
	case err == nil && !fi.Mode().IsRegular():
		if err := toSpecialFile(ctx, path, write); err != nil {
			return fail(err)
		}
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fail(err)
	}
	target, err := linkTarget(path)
	if err != nil {
		return fail(err)
	}
	if _, err := os.Stat(filepath.Dir(target)); target != path && errors.Is(err, fs.ErrNotExist) {
		// "no such file or directory" alone would puzzle: path's own folder is there.
		return fmt.Errorf("%s %s: it is a symlink to %s, whose folder does not exist", what, path, target)
	}
	if err := replaceFile(target, fi, write); err != nil {
		return fail(err)
	}
	return nil
}

// replaceFile writes to a temporary file next to target and renames it
// over target. The temporary file is created with mode 0666, so the umask
// (and a folder's default ACL) applies as to any new file; when there is
// an old file (nil for none), it gets that file's permissions.
func replaceFile(target string, old fs.FileInfo, write func(io.Writer) error) error {
	tmp, err := createTemp(filepath.Dir(target), "."+filepath.Base(target)+".")
	if err != nil {
		return err
	}
	err = write(tmp)
	if err == nil && old != nil {
		err = tmp.Chmod(old.Mode().Perm())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// createTemp is os.CreateTemp with mode 0666 instead of 0600: an export is
// ordinary data, and the umask decides who else may read it.
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// toSpecialFile writes into an existing file that is not a regular one
// (a device, a FIFO), in place: opened for writing, without creating,
// truncating, syncing or renaming anything. A FIFO's open waits for its
// reader, as a shell's redirection does, or until ctx ends.
func toSpecialFile(ctx context.Context, target string, write func(io.Writer) error) error {
	// The reader may never come: the open goes on in its goroutine until
	// the process ends.
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		done <- opened{f, err}
	}()
	var f *os.File
	select {
	case o := <-done:
		if o.err != nil {
			return o.err
		}
		f = o.f
	case <-ctx.Done():
		go func() { // should the reader come after all
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return context.Cause(ctx)
	}
	err := write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkTarget is the file path names: path itself, or, for a symlink, the
// end of its chain of links, which need not exist yet (a dangling link's
// target is where a new file goes).
func linkTarget(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return target, err
	}
	// Something on the way does not exist: follow the links by hand up
	// to the first name that does not exist.
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if hops == 40 { // as Linux's limit
			return "", syscall.ELOOP
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			// Relative to the link's real folder, as the kernel reads it
			// (lexically, ".." after a linked folder would go elsewhere).
			dir := filepath.Dir(path)
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real
			}
			link = filepath.Join(dir, link)
		}
		path = link
	}
}

// unwrapPath drops the file names from *PathError and *LinkError messages:
// the caller names the path the user gave, and the temporary file's name
// means nothing to them.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
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
	case Bool:
		return strconv.AppendBool(b, c.B)
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
