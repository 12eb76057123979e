package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
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

// An export under way is written in a folder in the dataset's folder
// whose name starts with tmpPrefix, its files named with partialSuffix:
// the folder is hidden (pyarrow, pandas, polars and Spark skip such
// folders) and none of its files ends in .parquet, so a reader of
// DIR/**/*.parquet (DuckDB's usual glob, which enters hidden folders)
// never reads an export under way, or one that was killed. Leftovers
// are removed by the next export (removeLeftovers).
const (
	tmpPrefix     = ".trafficctl-tmp-"
	partialSuffix = ".partial"
	// legacyTmpPrefix is the temporary folder of releases up to daf2146,
	// whose files ended in .parquet.
	legacyTmpPrefix = ".tmp-"
)

// ToDays writes a table as a Hive-partitioned Parquet dataset under dir:
// one folder per UTC day of the run's start, KEY=YYYY-MM-DD (KEY from
// PartitionKey), holding a file per feed, feed-NAME.parquet (a day that
// comes back after another, when a clock was set back, adds
// feed-NAME.1.parquet and so on). Everything is written under a
// temporary folder in dir first; only when the whole export succeeded is
// each day's folder moved into place, replacing that day's folder if it
// exists, so exporting a day again gives the same dataset and a failed
// export changes nothing. Days the export has no rows for are left as
// they are. An export of some feeds (opts.Filter.Feeds) replaces only
// their files: the day's new folder keeps the other feeds' files.
func ToDays(ctx context.Context, st *store.Store, opts Options, dir string) (int64, error) {
	key := PartitionKey(opts.Table)
	if key == "" {
		return 0, fmt.Errorf("the %s table cannot be partitioned by day (only snapshots and runs)", opts.Table)
	}
	opts.Format = Parquet
	fail := func(err error) error { return fmt.Errorf("export to %s: %w", dir, unwrapPath(err)) }
	// Through a symlink, dangling or not, to the folder it names.
	target, err := linkTarget(dir)
	if err != nil {
		return 0, fail(err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return 0, fail(err)
	}
	removeLeftovers(target)
	tmp, unlock, err := makeTemp(target)
	if err != nil {
		return 0, fail(err)
	}
	defer unlock()
	defer os.RemoveAll(tmp)
	dw := &dayWriter{tmp: tmp, key: key, column: dayColumns[opts.Table], feeds: opts.Filter.Feeds, parts: map[string]int{}}
	n, err := copyRows(ctx, st, opts, dw)
	if err == nil {
		err = dw.commit(target)
	}
	if err != nil {
		dw.abort()
		return n, fail(err)
	}
	return n, nil
}

// makeTemp creates the export's temporary folder in dir and locks it for
// as long as the export runs, so that another export leaves it alone.
func makeTemp(dir string) (tmp string, unlock func(), err error) {
	for {
		tmp, err := os.MkdirTemp(dir, tmpPrefix)
		if err != nil {
			return "", nil, err
		}
		unlock, err := lockDir(tmp, true)
		if err != nil {
			return "", nil, err
		}
		// Another export's removeLeftovers may have taken the folder
		// between its creation and the lock, and removed it.
		if _, err := os.Stat(tmp); err == nil {
			return tmp, unlock, nil
		}
		unlock()
	}
}

// removeLeftovers removes the temporary folders of exports that were
// killed: those no export holds the lock of, and those of older releases
// (which took no lock). It does what it can; what it cannot remove,
// readers of *.parquet do not read anyway.
func removeLeftovers(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case !e.IsDir():
		case strings.HasPrefix(e.Name(), tmpPrefix):
			if unlock, err := lockDir(path, false); err == nil {
				os.RemoveAll(path)
				unlock()
			}
		case strings.HasPrefix(e.Name(), legacyTmpPrefix):
			os.RemoveAll(path)
		}
	}
}

// fileName is the name of a feed's part of a day: part 0 is
// feed-NAME.parquet, the next feed-NAME.1.parquet. Names begin "feed-",
// which the files of releases up to daf2146 (part-0.parquet, holding every
// feed) do not, and a feed name holds no ".".
func fileName(feed string, part int) string {
	name := "feed-" + url.PathEscape(feed)
	if part > 0 {
		name += "." + strconv.Itoa(part)
	}
	return name + ".parquet"
}

// feedOfFile is the feed of a file named by fileName, or false.
func feedOfFile(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "feed-")
	if !ok || !strings.HasSuffix(rest, ".parquet") {
		return "", false
	}
	esc, _, _ := strings.Cut(strings.TrimSuffix(rest, ".parquet"), ".")
	feed, err := url.PathUnescape(esc)
	return feed, err == nil
}

// dayWriter writes each day's rows to a file per feed under tmp. Rows come
// ordered by run, and the runs of several feeds take turns, so the files
// of the current day are open together, one per feed; should a day come
// back after another (a clock set back between runs), it gets further
// parts in the same folder.
type dayWriter struct {
	tmp, key, column string
	feeds            []string // the feeds the export is limited to; none: all
	at, feedAt       int      // indexes of column and of feed
	day              string   // of the open files
	cols             []Column
	open             map[string]*partFile // by feed
	parts            map[string]int       // files written per day and feed ("day/feed")
	days             []string             // in order of first row
}

// partFile is one open file of the dataset.
type partFile struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	pw   *parquetWriter
}

func (d *dayWriter) header(cols []Column) error {
	d.cols = cols
	d.at = slices.IndexFunc(cols, func(c Column) bool { return c.Name == d.column && c.Kind == Time })
	if d.at < 0 {
		return fmt.Errorf("no time column %s to partition by", d.column)
	}
	d.feedAt = slices.IndexFunc(cols, func(c Column) bool { return c.Name == "feed" })
	if d.feedAt < 0 {
		return fmt.Errorf("no feed column to name files by")
	}
	return nil
}

func (d *dayWriter) row(cols []Column, cells []Cell) error {
	c := &cells[d.at]
	if c.Null {
		return fmt.Errorf("a row has no %s to partition by", d.column)
	}
	if day := c.T.UTC().Format(time.DateOnly); day != d.day {
		if err := d.finish(); err != nil {
			return err
		}
		d.day = day
	}
	feed := cells[d.feedAt].S
	pf := d.open[feed]
	if pf == nil {
		var err error
		if pf, err = d.create(feed); err != nil {
			return err
		}
	}
	return pf.pw.row(cols, cells)
}

// create opens the next file of feed on the current day.
func (d *dayWriter) create(feed string) (*partFile, error) {
	folder := filepath.Join(d.tmp, d.key+"="+d.day)
	if !slices.Contains(d.days, d.day) {
		if err := os.Mkdir(folder, 0o755); err != nil {
			return nil, err
		}
		d.days = append(d.days, d.day)
	}
	part := d.day + "/" + feed
	path := filepath.Join(folder, fileName(feed, d.parts[part])+partialSuffix)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	d.parts[part]++
	pf := &partFile{path: path, f: f, bw: bufio.NewWriterSize(f, 256<<10)}
	pf.pw = newParquetWriter(pf.bw)
	if d.open == nil {
		d.open = map[string]*partFile{}
	}
	d.open[feed] = pf
	return pf, pf.pw.header(d.cols)
}

// finish completes the open files, if any.
func (d *dayWriter) finish() error {
	var errs []error
	for feed, pf := range d.open {
		err := pf.pw.end()
		if err == nil {
			err = pf.bw.Flush()
		}
		if err == nil {
			err = pf.f.Sync()
		}
		if cerr := pf.f.Close(); err == nil {
			err = cerr
		}
		errs = append(errs, err)
		delete(d.open, feed)
	}
	return errors.Join(errs...)
}

// abort closes the open files after a failure.
func (d *dayWriter) abort() {
	for feed, pf := range d.open {
		pf.pw.abort()
		pf.f.Close()
		delete(d.open, feed)
	}
}

func (d *dayWriter) end() error { return d.finish() }

// commit moves each day's folder into dir. First every day's new folder
// is made whole: its files get their names, and, for an export of some
// feeds, the existing folder's files of the other feeds are linked into
// it. Only then is each day's existing folder renamed aside and the new
// one renamed into place (and the old removed after), so the folder a
// reader finds is always a whole export of that day (for the instant
// between the two renames, none is there), and an export that fails
// before changes nothing.
func (d *dayWriter) commit(dir string) error {
	for _, day := range d.days {
		name := d.key + "=" + day
		if err := d.complete(filepath.Join(d.tmp, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
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

// complete makes the new folder of a day whole (see commit); old is the
// day's folder in the dataset.
func (d *dayWriter) complete(staged, old string) error {
	files, err := os.ReadDir(staged)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Rename(filepath.Join(staged, f.Name()), filepath.Join(staged, strings.TrimSuffix(f.Name(), partialSuffix))); err != nil {
			return err
		}
	}
	if len(d.feeds) == 0 {
		return nil
	}
	kept, err := os.ReadDir(old)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, f := range kept {
		feed, ok := feedOfFile(f.Name())
		switch {
		case !ok && strings.HasSuffix(f.Name(), ".parquet"):
			return fmt.Errorf("%s holds %s, written by an older trafficctl with every feed in one file: export these days once without --feed", old, f.Name())
		case ok && slices.Contains(d.feeds, feed):
			continue // replaced by this export
		}
		if err := linkOrCopy(filepath.Join(old, f.Name()), filepath.Join(staged, f.Name())); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy makes to a hard link of from, or, where the file system has
// none, a copy.
func linkOrCopy(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

var _ rowWriter = (*dayWriter)(nil)
