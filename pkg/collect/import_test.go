package collect_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/internal/replaytest"
	"github.com/trafficctl/trafficctl/pkg/collect"
	"github.com/trafficctl/trafficctl/pkg/export"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

const realSnapshots = "../../testdata/511-real-2021"

// importParams are a run's parameters reading through archive.
func importParams(st *store.Store, feed string, archive *collect.Archive) collect.Params {
	client := &source.Client{HTTP: archive.Client(), Retries: 0, Timeout: 5 * time.Second}
	p := collect.Params{FeedName: feed, Store: st, Version: "test", Deadline: time.Minute}
	if archive.Open511 {
		p.Feed = &open511.Feed{URL: "http://import.invalid/", Source: client}
	} else {
		p.Feed = &wzdx.Feed{URL: "http://import.invalid/", Source: client}
	}
	return p
}

// exports are the tables an import must give exactly as fetching would
// (the runs table is compared without source_url and pages).
func exports(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{export.Events, export.Versions, export.Snapshots, export.Lifetimes, export.Changes, export.Runs} {
		var buf bytes.Buffer
		if _, err := export.Write(ctx, st, export.Options{Table: table, Format: export.JSONL}, &buf); err != nil {
			t.Fatal(err)
		}
		text := buf.String()
		if table == export.Runs {
			// Where the body came from, and in how many pages, differ.
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
				var run map[string]any
				if err := json.Unmarshal([]byte(l), &run); err != nil {
					t.Fatal(err)
				}
				delete(run, "source_url")
				delete(run, "pages")
				b, _ := json.Marshal(run)
				lines = append(lines, string(b))
			}
			text = strings.Join(lines, "\n")
		}
		out[table] = text
	}
	return out
}

// sameExports checks that imported exports as fetched does, and returns
// the exports.
func sameExports(t *testing.T, fetched, imported *store.Store) map[string]string {
	t.Helper()
	want, got := exports(t, fetched), exports(t, imported)
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s differs:\nimported %.600s\nfetched  %.600s", table, got[table], w)
		}
	}
	return want
}

// TestImportIsFetchingThen: importing the 20 real snapshots with their
// manifest (bare lists of events, one of them gzipped, one with a
// byte-order mark) stores exactly
// what fetching them one by one at those times does, on both dialects.
func TestImportIsFetchingThen(t *testing.T) {
	archives, err := collect.ReadManifest(realSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	if len(archives) != 20 || archives[0].ObservedAt.Format(time.RFC3339) != "2021-04-15T17:10:36Z" || archives[19].ObservedAt.Format(time.RFC3339) != "2021-04-26T05:40:53Z" {
		t.Fatalf("manifest: %d files from %v", len(archives), archives)
	}
	// One file gzipped, under another name: the content decides, not the name.
	dir := t.TempDir()
	raw, err := os.ReadFile(archives[7].Path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	archives[7].Path = filepath.Join(dir, "snap_07.json.gz")
	if err := os.WriteFile(archives[7].Path, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another with a byte-order mark, as 511.org sends them.
	raw, err = os.ReadFile(archives[8].Path)
	if err != nil {
		t.Fatal(err)
	}
	archives[8].Path = filepath.Join(dir, "snap_08.json")
	if err := os.WriteFile(archives[8].Path, append([]byte("\xef\xbb\xbf"), raw...), 0o644); err != nil {
		t.Fatal(err)
	}
	var steps []replaytest.Step
	for i, a := range archives {
		steps = append(steps, replaytest.Step{At: a.ObservedAt, Snapshot: i})
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		fetched := dbtest.Open(t, another(t, dbURL))
		replaytest.Replay(t, fetched, steps)
		imported := dbtest.Open(t, dbURL)
		archive := &collect.Archive{Open511: true}
		var runs []collect.Summary
		err := collect.Import(ctx, importParams(imported, store.DefaultFeed, archive), archive, archives, func(_ collect.Archived, s collect.Summary, err error) {
			if err != nil {
				t.Errorf("run %d: %v", len(runs)+1, err)
			}
			runs = append(runs, s)
		})
		if err != nil || len(runs) != 20 {
			t.Fatalf("%d runs: %v", len(runs), err)
		}
		want := sameExports(t, fetched, imported)
		if n := strings.Count(want[export.Versions], "\n"); n != 46 {
			t.Errorf("%d versions, want the fixture's 46 spells", n)
		}
	})
}

// TestImportWZDxIsFetchingThen: a WZDx document imported is stored as
// fetched.
func TestImportWZDxIsFetchingThen(t *testing.T) {
	doc := "../../testdata/wzdx/511-mtc-v4.1.json"
	body, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(srv.Close) // after the parallel subtests
	at := time.Date(2025, 10, 10, 17, 0, 0, 0, time.UTC)
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		fetched := dbtest.Open(t, dbURL)
		_, err := collect.Run(ctx, collect.Params{
			Feed: &wzdx.Feed{URL: srv.URL, Source: &source.Client{Timeout: 5 * time.Second}}, FeedName: "wzdx", Store: fetched,
			Now: func() time.Time { return at }, Version: "test", Deadline: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		imported := dbtest.Open(t, another(t, dbURL))
		file := filepath.Join(t.TempDir(), "wzdx.json")
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
		archive := &collect.Archive{}
		err = collect.Import(ctx, importParams(imported, "wzdx", archive), archive, []collect.Archived{{Path: file, ObservedAt: at}}, func(collect.Archived, collect.Summary, error) {})
		if err != nil {
			t.Fatal(err)
		}
		want := sameExports(t, fetched, imported)
		if n := strings.Count(want[export.Events], "\n"); n != 1186 {
			t.Errorf("%d events, want the document's 1,186", n)
		}
	})
}

// another is a fresh database of dbURL's dialect.
func another(t *testing.T, dbURL string) string {
	if strings.HasPrefix(dbURL, "postgres") {
		return dbtest.Postgres(t)
	}
	return dbtest.SQLite(t)
}

// TestImportAppendsOnly: archives at or before the feed's latest run, or
// out of order, are refused with a sentence that says so, and nothing is
// imported; a page that links to a next page fails its run, as an
// incomplete snapshot fetched would, and the files after it are imported.
func TestImportAppendsOnly(t *testing.T) {
	archives, err := collect.ReadManifest(realSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paged := filepath.Join(dir, "paged.json")
	os.WriteFile(paged, []byte(`{"events":[],"pagination":{"next_url":"/traffic/events?offset=20"}}`), 0o644)
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := dbtest.Open(t, dbURL)
		archive := &collect.Archive{Open511: true}
		p := importParams(st, store.DefaultFeed, archive)
		none := func(collect.Archived, collect.Summary, error) {}
		if err := collect.Import(ctx, p, archive, archives[:3], none); err != nil {
			t.Fatal(err)
		}
		latest := archives[2].ObservedAt
		refused := []struct {
			name     string
			archives []collect.Archived
			want     string
		}{
			{"the latest run's time", []collect.Archived{{archives[3].Path, latest}}, "not after the feed's latest run (2021-04-15T17:39:42Z, succeeded)"},
			{"earlier", []collect.Archived{{archives[3].Path, latest.Add(-time.Hour)}, {archives[4].Path, latest.Add(time.Hour)}}, "runs can only be appended"},
			{"out of order", []collect.Archived{{archives[4].Path, latest.Add(2 * time.Hour)}, {archives[3].Path, latest.Add(time.Hour)}}, "list the files in the order they were fetched"},
		}
		for _, r := range refused {
			err := collect.Import(ctx, p, archive, r.archives, none)
			if err == nil || !strings.Contains(err.Error(), r.want) {
				t.Errorf("%s: err %v, want %q", r.name, err, r.want)
			}
		}
		var statuses []string
		err := collect.Import(ctx, p, archive, []collect.Archived{{paged, latest.Add(time.Minute)}, {archives[3].Path, latest.Add(2 * time.Minute)}},
			func(_ collect.Archived, s collect.Summary, _ error) { statuses = append(statuses, s.Status) })
		if err == nil || !strings.Contains(err.Error(), "paged.json: ") || !strings.Contains(err.Error(), collect.ErrNextPage.Error()) {
			t.Errorf("a page with a next one: %v", err)
		}
		if strings.Join(statuses, ",") != "failed,succeeded" {
			t.Errorf("runs %v, want failed then succeeded", statuses)
		}
		var runs int
		st.Runs(ctx, store.Filter{}, func(*store.FetchRun) error { runs++; return nil })
		if runs != 5 {
			t.Errorf("%d runs, want the 3 imported, the failed one and the one after it", runs)
		}

		// A fetch that lands between two files (cron, while importing):
		// the next file is refused under its run's lock, and not recorded.
		fetchAt := latest.Add(time.Hour)
		other := &collect.Archive{Open511: true}
		err = collect.Import(ctx, p, archive, []collect.Archived{{Path: archives[4].Path, ObservedAt: latest.Add(10 * time.Minute)}, {Path: archives[5].Path, ObservedAt: latest.Add(20 * time.Minute)}},
			func(a collect.Archived, _ collect.Summary, _ error) {
				if a.Path == archives[4].Path {
					if err := collect.Import(ctx, importParams(st, store.DefaultFeed, other), other, []collect.Archived{{Path: archives[6].Path, ObservedAt: fetchAt}}, none); err != nil {
						t.Fatal(err)
					}
				}
			})
		if err == nil || !strings.Contains(err.Error(), "not after the feed's latest run ("+fetchAt.Format(time.RFC3339)+", succeeded)") {
			t.Errorf("a file older than a run made meanwhile: %v", err)
		}
		runs = 0
		st.Runs(ctx, store.Filter{}, func(*store.FetchRun) error { runs++; return nil })
		if runs != 7 {
			t.Errorf("%d runs, want 7: the refused file left none", runs)
		}
	})
}

// TestImportRetriesAFailedFile: a file that failed to import can be
// imported again, corrected, at its own time: the failed run stays and the
// successful one follows it at the same time; once it has succeeded, that
// time is taken.
func TestImportRetriesAFailedFile(t *testing.T) {
	archives, err := collect.ReadManifest(realSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	os.WriteFile(broken, []byte(`[{"id": "a", "headline": `), 0o644)
	at := archives[1].ObservedAt
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st := dbtest.Open(t, dbURL)
		archive := &collect.Archive{Open511: true}
		p := importParams(st, store.DefaultFeed, archive)
		none := func(collect.Archived, collect.Summary, error) {}
		if err := collect.Import(ctx, p, archive, archives[:1], none); err != nil {
			t.Fatal(err)
		}
		if err := collect.Import(ctx, p, archive, []collect.Archived{{broken, at}}, none); err == nil {
			t.Fatal("a truncated file imported")
		}
		if err := collect.Import(ctx, p, archive, []collect.Archived{{archives[1].Path, at}}, none); err != nil {
			t.Fatalf("the corrected file at the failed run's time: %v", err)
		}
		err := collect.Import(ctx, p, archive, []collect.Archived{{archives[1].Path, at}}, none)
		if err == nil || !strings.Contains(err.Error(), "not after the feed's latest run ("+at.Format(time.RFC3339)+", succeeded)") {
			t.Errorf("a second import at a succeeded run's time: %v", err)
		}
		var runs []string
		st.Runs(ctx, store.Filter{}, func(r *store.FetchRun) error {
			runs = append(runs, r.StartedAt.UTC().Format(time.RFC3339)+" "+r.Status)
			return nil
		})
		want := []string{archives[0].ObservedAt.Format(time.RFC3339) + " succeeded", at.Format(time.RFC3339) + " failed", at.Format(time.RFC3339) + " succeeded"}
		if strings.Join(runs, "; ") != strings.Join(want, "; ") {
			t.Errorf("runs\n%s\nwant\n%s", strings.Join(runs, "; "), strings.Join(want, "; "))
		}
	})
}

// TestReadManifest: a manifest's mistakes are named with their line.
func TestReadManifest(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"no header", "snap_00.json,2021-04-15T17:10:36Z\n", "the first line must be the header file,observed_at"},
		{"a bad time", "file,observed_at\nsnap_00.json,2021-04-15 17:10\n", "line 2: observed_at \"2021-04-15 17:10\" is not an RFC 3339 time"},
		{"an absolute path", "file,observed_at\n/etc/passwd,2021-04-15T17:10:36Z\n", "must be a path relative to"},
		{"three fields", "file,observed_at\na,b,c\n", "wrong number of fields"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, collect.ManifestName), []byte(c.text), 0o644)
			if _, err := collect.ReadManifest(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
	if _, err := collect.ReadManifest(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no manifest.csv") {
		t.Errorf("no manifest: %v", err)
	}
}
