package collect_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
// byte as that release did. An upgrade loses or alters nothing collected.
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
			if format == string(export.Parquet) {
				if diff := parquetDifference(got.Bytes(), want); diff != "" {
					t.Errorf("export %s as parquet: %s", table, diff)
				}
			} else if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("export %s as %s: %s", table, format, firstDifference(got.Bytes(), want))
			}
		}
	})
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
// statistics, GeoParquet's "geo").
func parquetDifference(got, want []byte) string {
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
