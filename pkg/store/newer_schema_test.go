package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

// A database a newer trafficctl migrated holds a migration id this one
// does not know: every way in refuses it, naming the id, instead of
// reading or writing a schema it does not understand.
func TestNewerSchemaIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		s := dbtest.Open(t, dbURL)
		if err := s.DB().Exec("INSERT INTO schema_migrations (id) VALUES ('9999_from_a_newer_release')").Error; err != nil {
			t.Fatal(err)
		}
		const want = "this database was migrated by a newer trafficctl (unknown migration 9999_from_a_newer_release); upgrade trafficctl"
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrNewerSchema) || err.Error() != want {
				t.Errorf("%s: err = %v, want %q", what, err, want)
			}
		}
		m, err := s.Migrations(ctx)
		check("Migrations", err)
		if len(m.Unknown) != 1 || m.Unknown[0] != "9999_from_a_newer_release" || len(m.Pending) != 0 {
			t.Errorf("Migrations = %+v", m)
		}
		_, err = s.Migrate(ctx)
		check("Migrate", err)
		_, err = s.Status(ctx, time.Now())
		check("Status", err)
		_, err = s.Plan(ctx, store.DefaultFeed, nil)
		check("Plan", err)
	})
}
