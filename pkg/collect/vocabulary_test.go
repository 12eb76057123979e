package collect_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/open511"
	"github.com/trafficctl/trafficctl/pkg/source"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
	"github.com/trafficctl/trafficctl/pkg/wzdx"
)

// fixtureEvents decodes every event of every Open511 and WZDx fixture,
// with the real decoders, keyed by a feed name per file and the id (the
// last of an id met twice in a file).
func fixtureEvents(t *testing.T) map[[2]string]traffic.Event {
	t.Helper()
	out := map[[2]string]traffic.Event{}
	glob := func(patterns ...string) []string {
		var files []string
		for _, p := range patterns {
			m, _ := filepath.Glob(filepath.Join("../../testdata", p))
			files = append(files, m...)
		}
		if len(files) == 0 {
			t.Fatalf("no fixtures %v", patterns)
		}
		return files
	}
	for i, f := range glob("511/*.json", "511-real-2021/snap_*.json", "drivebc/*.json", "vocabulary/open511-*.json") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.TrimPrefix(string(b), "\ufeff"))
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil {
			var page struct{ Events []json.RawMessage }
			if json.Unmarshal(b, &page) != nil {
				continue // the fixtures of broken pages
			}
			list = page.Events
		}
		for _, obj := range list {
			if e, _, err := open511.DecodeEvent(obj, time.UTC); err == nil {
				out[[2]string{fmt.Sprint("o", i), e.ID}] = e
			}
		}
	}
	for i, f := range glob("wzdx/*.json", "wzdx/*.geojson", "vocabulary/wzdx-*.geojson") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) }))
		events, _, err := traffic.ReadAll(ctx, &wzdx.Feed{URL: srv.URL, Source: &source.Client{Timeout: 5 * time.Second}})
		srv.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, e := range events {
			out[[2]string{fmt.Sprint("w", i), e.ID}] = e
		}
	}
	return out
}

// TestVocabularyFromRawIsTheDecoders: migration 0006_vocabulary fills
// category, impact, road and direction of the spells stored before it,
// from their raw, exactly as the decoders derive them for new rows: on
// every event of every fixture (the real feeds', the specification's, and
// edge cases of type, case, white space and nesting), on both dialects.
func TestVocabularyFromRawIsTheDecoders(t *testing.T) {
	events := fixtureEvents(t)
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Category], seen[e.Impact] = true, true
	}
	for _, v := range append(slices.Clone(traffic.Categories), traffic.ImpactRoadClosed, traffic.ImpactLanesClosed, traffic.ImpactLanesOpen, traffic.ImpactUnknown) {
		if !seen[v] {
			t.Errorf("no fixture event gives %s: that mapping is not tested", v)
		}
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		st, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		m, err := st.Migrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.Index(m.Pending, "0006_vocabulary")
		if i < 1 {
			t.Fatalf("pending %v", m.Pending)
		}
		if _, err := st.MigrateTo(ctx, m.Pending[i-1]); err != nil {
			t.Fatal(err)
		}
		// Spells as the release before 0006 stored them: raw, and no
		// vocabulary.
		raw := "?"
		if strings.HasPrefix(dbURL, "postgres") {
			raw = "CAST(? AS jsonb)"
		}
		at := time.Date(2025, 10, 10, 17, 0, 0, 0, time.UTC)
		tx := st.DB().Begin()
		for key, e := range events {
			var run int64
			if err := tx.Raw("INSERT INTO fetch_runs (feed, started_at, finished_at, status) VALUES (?, ?, ?, 'succeeded') RETURNING id", key[0], at, at).Scan(&run).Error; err != nil {
				t.Fatal(err)
			}
			if err := tx.Exec("INSERT INTO events (feed, id, first_seen_at, current_version) VALUES (?, ?, ?, 1)", key[0], key[1], at).Error; err != nil {
				t.Fatal(err)
			}
			if err := tx.Exec("INSERT INTO event_versions (feed, event_id, version, first_run_id, valid_from, content_hash, raw) VALUES (?, ?, 1, ?, ?, ?, "+raw+")",
				key[0], key[1], run, at, e.ContentHash, e.Raw).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if applied, err := st.Migrate(ctx); err != nil || !slices.Contains(applied, "0006_vocabulary") {
			t.Fatalf("migrate: %v, %v", applied, err)
		}
		rows, err := st.DB().Raw("SELECT feed, event_id, category, impact, road, direction FROM event_versions").Rows()
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var feed, id string
			var got [4]string
			if err := rows.Scan(&feed, &id, &got[0], &got[1], &got[2], &got[3]); err != nil {
				t.Fatal(err)
			}
			e := events[[2]string{feed, id}]
			if want := [4]string{e.Category, e.Impact, e.Road, e.Direction}; got != want {
				t.Errorf("%s %s: from raw %q, the decoder %q", feed, id, got, want)
			}
			n++
		}
		if n != len(events) || n < 1000 {
			t.Errorf("%d rows, %d events", n, len(events))
		}
	})
}
