package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// TestParquetRowGroups writes more rows than a row group holds, by count
// and by bytes, and reads every value back in order.
func TestParquetRowGroups(t *testing.T) {
	for _, c := range []struct {
		name        string
		rows, bytes int
		want        int // row groups
	}{
		{"by rows", 100, 1 << 30, 4},    // 100 rows, rounded up to batches of 256
		{"by bytes", 1 << 20, 20000, 4}, // a batch of 256 rows holds about 25 KB
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func(r, b int) { rowGroupRows, rowGroupBytes = r, b }(rowGroupRows, rowGroupBytes)
			rowGroupRows, rowGroupBytes = c.rows, c.bytes
			cols := []Column{{"n", Int}, {"at", Time}, {"name", Text}, {"geometry", JSON}, {"x", Float}}
			var buf bytes.Buffer
			w := newParquetWriter(&buf)
			if err := w.header(cols); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			cells := make([]Cell, len(cols))
			for i := 0; i < 1000; i++ {
				cells[0] = Cell{I: int64(i)}
				cells[1] = Cell{T: at.Add(time.Duration(i) * time.Second)}
				cells[2] = Cell{S: fmt.Sprint("event ", i%7)}
				cells[3] = Cell{S: fmt.Sprintf(`{"type":"Point","coordinates":[%d,%d]}`, i%180, i%90)}
				cells[4] = Cell{Null: i%2 == 0, F: float64(i) / 4}
				if err := w.row(cols, cells); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.end(); err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(f.RowGroups()); n != c.want {
				t.Errorf("%d row groups, want %d", n, c.want)
			}
			r := parquet.NewReader(bytes.NewReader(buf.Bytes()))
			rows := make([]parquet.Row, 1100)
			n, err := r.ReadRows(rows)
			if err != nil && !errors.Is(err, io.EOF) || n != 1000 {
				t.Fatalf("read %d rows: %v", n, err)
			}
			for i, row := range rows[:n] {
				if row[0].Int64() != int64(i) || row[1].Int64() != at.Add(time.Duration(i)*time.Second).UnixMicro() ||
					string(row[2].ByteArray()) != fmt.Sprint("event ", i%7) || row[5].IsNull() != (i%2 == 0) ||
					!row[5].IsNull() && row[5].Double() != float64(i)/4 {
					t.Fatalf("row %d reads back as %v", i, row)
				}
			}
		})
	}
}

// TestParquetDictionaryStaysSmall: a column of distinct long values (raw)
// gives up its dictionary once it passes dictionaryMaxBytes, instead of
// holding a page's worth of values (tens of MB) in memory first.
func TestParquetDictionaryStaysSmall(t *testing.T) {
	const rows, size = 20000, 2000 // 40 MB of text: one row group
	cols := []Column{{"raw", JSON}}
	var buf bytes.Buffer
	w := newParquetWriter(&buf)
	if err := w.header(cols); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", size)
	cells := make([]Cell, 1)
	for i := 0; i < rows; i++ {
		cells[0].S = fmt.Sprintf(`{"id":%d,"pad":"%s"}`, i, pad)
		if err := w.row(cols, cells); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.end(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n != 1 {
		t.Fatalf("%d row groups, want 1", n)
	}
	pages := f.RowGroups()[0].ColumnChunks()[0].Pages()
	defer pages.Close()
	page, err := pages.ReadPage()
	if err != nil {
		t.Fatal(err)
	}
	d := page.Dictionary()
	if d == nil {
		t.Fatal("the column was never dictionary-encoded")
	}
	if limit := (dictionaryMaxBytes + pageBytes) / size * 11 / 10; d.Len() > limit {
		t.Errorf("the dictionary holds %d values of %d bytes, want at most %d", d.Len(), size, limit)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestParquetWriteErrorStopsTheExport: when the encoder cannot write (a
// full disk), rows are refused soon after, and its goroutine ends.
func TestParquetWriteErrorStopsTheExport(t *testing.T) {
	defer func(b int) { rowGroupBytes = b }(rowGroupBytes)
	rowGroupBytes = 1 << 16
	before := runtime.NumGoroutine()
	cols := []Column{{"text", Text}}
	w := newParquetWriter(failingWriter{})
	if err := w.header(cols); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	cells := make([]Cell, 1)
	var err error
	rows := 0
	for ; rows < 100000 && err == nil; rows++ {
		cells[0].S = fmt.Sprintf("%x%x%x%x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()) // incompressible enough
		err = w.row(cols, cells)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d rows: err %v, want ENOSPC", rows, err)
	}
	if rows > 10000 {
		t.Errorf("the error came after %d rows", rows)
	}
	w.abort()
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines, %d before", n, before)
	}
}
