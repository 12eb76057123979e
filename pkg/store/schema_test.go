package store_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

var update = flag.Bool("update", false, "rewrite the golden catalogs in testdata/schema/ from this code")

// The release daf2146 (scripts/release-fixture.sh): its SQLite database,
// its last migration, and the catalogs of databases it made.
const (
	releaseDB     = "../../testdata/upgrade/daf2146.db"
	releaseSchema = "0003_views"
	schemaDir     = "../../testdata/schema/"
)

// TestEachMigrationGivesItsGoldenCatalog: the schema after each migration,
// on each dialect, is testdata/schema/<ID>.<dialect>.txt. A migration once
// released never changes, so neither does its file; go test -update
// writes the files of a new migration.
func TestEachMigrationGivesItsGoldenCatalog(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) { checkMigrationCatalogs(t, dbURL, *update) })
}

// TestAFieldAddedToTrafficLeavesEveryMigrationAsItWas: migrations are
// history, not built from traffic.Fields: a column added there changes
// none of their catalogs. (Not parallel: it changes traffic.Fields while
// it runs, subtests included; go test starts parallel tests only after the
// others have ended.)
func TestAFieldAddedToTrafficLeavesEveryMigrationAsItWas(t *testing.T) {
	saved := traffic.Fields
	t.Cleanup(func() { traffic.Fields = saved })
	traffic.Fields = append(slices.Clone(saved), traffic.Field{Name: "added_in_a_test", Kind: traffic.Text})
	dbtest.Each(t, func(t *testing.T, dbURL string) { checkMigrationCatalogs(t, dbURL, false) })
}

func checkMigrationCatalogs(t *testing.T, dbURL string, write bool) {
	st := dbtest.OpenAsIs(t, dbURL)
	status, err := st.Migrations(ctx)
	if err != nil || len(status.Pending) < 3 {
		t.Fatalf("migrations of a new database: %+v, %v", status, err)
	}
	for _, id := range status.Pending {
		if _, err := st.MigrateTo(ctx, id); err != nil {
			t.Fatalf("migrate to %s: %v", id, err)
		}
		compareGolden(t, schemaDir+id+"."+dialect(dbURL)+".txt", dbtest.Catalog(t, st.DB()), write)
	}
}

// TestFreshSchemaEqualsUpgradedRelease: a database the release daf2146
// made, migrated by this trafficctl, has the schema of a new database. On
// SQLite the release's file is migrated; on PostgreSQL a database at the
// release's last migration, whose catalog is first checked against that
// of a database the release itself migrated.
func TestFreshSchemaEqualsUpgradedRelease(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		var old *store.Store
		if dialect(dbURL) == "sqlite" {
			b, err := os.ReadFile(releaseDB)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(strings.TrimPrefix(dbURL, "sqlite:///"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			old = dbtest.OpenAsIs(t, dbURL)
		} else {
			old = dbtest.OpenAsIs(t, dbURL)
			if _, err := old.MigrateTo(ctx, releaseSchema); err != nil {
				t.Fatal(err)
			}
		}
		// What the release made, by its own catalog.
		compareGolden(t, schemaDir+"daf2146."+dialect(dbURL)+".txt", dbtest.Catalog(t, old.DB()), false)
		if _, err := old.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var freshURL string
		if dialect(dbURL) == "sqlite" {
			freshURL = dbtest.SQLite(t)
		} else {
			freshURL = dbtest.Postgres(t)
		}
		fresh := dbtest.Open(t, freshURL)
		if got, want := dbtest.Catalog(t, old.DB()), dbtest.Catalog(t, fresh.DB()); got != want {
			t.Errorf("the upgraded release's schema differs from a new database's:\n%s", lineDiff(got, want))
		}
	})
}

func dialect(dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite") {
		return "sqlite"
	}
	return "postgres"
}

// compareGolden checks got against the file, or with write rewrites it.
func compareGolden(t *testing.T, file, got string, write bool) {
	t.Helper()
	if write {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the catalog differs from %s:\n%s", filepath.Base(file), lineDiff(got, string(want)))
	}
}

// lineDiff lists the lines only one of got and want has, in order, with
// the object (an unindented line) each belongs to.
func lineDiff(got, want string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		object := ""
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "\t") {
				object = l
			}
			m[object+":"+l]++
		}
		return m
	}
	g, w := count(got), count(want)
	var out []string
	for k, n := range g {
		if w[k] < n {
			out = append(out, "+ "+k)
		}
	}
	for k, n := range w {
		if g[k] < n {
			out = append(out, "- "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
