package export

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trafficctl/trafficctl/pkg/store"
)

// dayColumns are the tables that can be partitioned by day, and the time
// column that gives a row's day: the start of the run it belongs to.
var dayColumns = map[string]string{Snapshots: "observed_at", Runs: "started_at"}

// PartitionKey is the Hive partition key of a table partitioned by day
// (the day column with _at changed to _date: observed_date for snapshots,
// started_date for runs), or "" when the table cannot be.
func PartitionKey(table string) string {
	col, ok := dayColumns[table]
	if !ok {
		return ""
	}
	return strings.TrimSuffix(col, "_at") + "_date"
}

// ToDays writes a table as a Hive-partitioned Parquet dataset under dir,
// one folder per UTC day of the run's start, KEY=YYYY-MM-DD/part-0.parquet
// (KEY from PartitionKey). Everything is written under a temporary folder
// in dir first; only when the whole export succeeded is each day's folder
// moved into place, replacing that day's folder if it exists, so exporting
// a day again gives the same dataset and a failed export changes nothing.
// Days the export has no rows for are left as they are.
func ToDays(ctx context.Context, st *store.Store, opts Options, dir string) (int64, error) {
	key := PartitionKey(opts.Table)
	if key == "" {
		return 0, fmt.Errorf("the %s table cannot be partitioned by day (only snapshots and runs)", opts.Table)
	}
	opts.Format = Parquet
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("export to %s: %w", dir, unwrapPath(err))
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-")
	if err != nil {
		return 0, fmt.Errorf("export to %s: %w", dir, unwrapPath(err))
	}
	defer os.RemoveAll(tmp)
	dw := &dayWriter{tmp: tmp, key: key, column: dayColumns[opts.Table], parts: map[string]int{}}
	n, err := copyRows(ctx, st, opts, dw)
	if err == nil {
		err = dw.commit(dir)
	}
	if err != nil {
		dw.abort()
		return n, fmt.Errorf("export to %s: %w", dir, unwrapPath(err))
	}
	return n, nil
}

// dayWriter writes each day's rows to a file of its own under tmp. Rows
// come ordered by run, so one file is open at a time; should a day come
// back after another (a clock set back between runs), it gets another
// part in the same folder.
type dayWriter struct {
	tmp, key, column string
	at               int    // index of column
	day              string // of the open file
	cols             []Column
	f                *os.File
	bw               *bufio.Writer
	pw               *parquetWriter
	parts            map[string]int // files written per day
	days             []string       // in order of first row
}

func (d *dayWriter) header(cols []Column) error {
	d.cols = cols
	d.at = slices.IndexFunc(cols, func(c Column) bool { return c.Name == d.column && c.Kind == Time })
	if d.at < 0 {
		return fmt.Errorf("no time column %s to partition by", d.column)
	}
	return nil
}

func (d *dayWriter) row(cols []Column, cells []Cell) error {
	c := &cells[d.at]
	if c.Null {
		return fmt.Errorf("a row has no %s to partition by", d.column)
	}
	if day := c.T.UTC().Format(time.DateOnly); day != d.day || d.pw == nil {
		if err := d.finish(); err != nil {
			return err
		}
		if err := d.open(day); err != nil {
			return err
		}
	}
	return d.pw.row(cols, cells)
}

func (d *dayWriter) open(day string) error {
	folder := filepath.Join(d.tmp, d.key+"="+day)
	if d.parts[day] == 0 {
		if err := os.Mkdir(folder, 0o755); err != nil {
			return err
		}
		d.days = append(d.days, day)
	}
	f, err := os.OpenFile(filepath.Join(folder, "part-"+strconv.Itoa(d.parts[day])+".parquet"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	d.parts[day]++
	d.day, d.f = day, f
	d.bw = bufio.NewWriterSize(f, 256<<10)
	d.pw = newParquetWriter(d.bw)
	return d.pw.header(d.cols)
}

// finish completes the open file, if any.
func (d *dayWriter) finish() error {
	if d.pw == nil {
		return nil
	}
	err := d.pw.end()
	if err == nil {
		err = d.bw.Flush()
	}
	if err == nil {
		err = d.f.Sync()
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.pw, d.f = nil, nil
	return err
}

// abort closes the open file after a failure.
func (d *dayWriter) abort() {
	if d.pw != nil {
		d.pw.abort()
	}
	if d.f != nil {
		d.f.Close()
	}
	d.pw, d.f = nil, nil
}

func (d *dayWriter) end() error { return d.finish() }

// commit moves each day's folder into dir. A day's existing folder is
// renamed aside first and removed after, so the folder a reader finds is
// always a whole export of that day (for the instant between the two
// renames, none is there).
func (d *dayWriter) commit(dir string) error {
	for _, day := range d.days {
		name := d.key + "=" + day
		target, aside := filepath.Join(dir, name), filepath.Join(d.tmp, "old-"+name)
		switch err := os.Rename(target, aside); {
		case err == nil, os.IsNotExist(err):
		default:
			return err
		}
		if err := os.Rename(filepath.Join(d.tmp, name), target); err != nil {
			os.Rename(aside, target) // put the old day back
			return err
		}
	}
	return nil // the old folders go with tmp
}

var _ rowWriter = (*dayWriter)(nil)
