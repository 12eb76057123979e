package store_test

import (
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// jsonbNumbers are numbers at the edges of PostgreSQL's numeric, which
// jsonb stores them in, and whether it takes them.
var jsonbNumbers = []struct {
	num  string
	fits bool
}{
	{"-122.41941", true}, {"-0", true}, {"1.50", true}, {"1E+2", true},
	{"1e-16383", true}, {"1e-16384", false}, {"1.5e-16383", false}, {"0.5e-16382", true},
	{"0." + strings.Repeat("0", 16382) + "1", true}, {"0." + strings.Repeat("0", 16383) + "1", false},
	{"1e131071", true}, {"1e131072", false}, {"12e131071", false}, {"0.01e131073", true},
	{"1" + strings.Repeat("0", 131071), true}, {"1" + strings.Repeat("0", 131072), false},
	{"0e-16383", true}, {"0e-20000", false}, {"0e999999999", true}, {"0e1073741823", false},
	{"1e-99999999999999999999", false},
}

// TestCanonicalRefusesNumbersJSONBCannotHold: an event with a number that
// PostgreSQL's jsonb refuses (so that the run would fail there, and only
// there) has no canonical form, and is skipped on both databases. The
// expectations are checked against the server when there is one.
func TestCanonicalRefusesNumbersJSONBCannotHold(t *testing.T) {
	for _, c := range jsonbNumbers {
		_, err := traffic.Canonical([]byte(`{"n":` + c.num + `}`))
		if (err == nil) != c.fits {
			t.Errorf("Canonical of %.30s (%d bytes): error %v, want fits=%v", c.num, len(c.num), err, c.fits)
		}
	}
	t.Run("postgres", func(t *testing.T) {
		s, err := store.Open(ctx, dbtest.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, c := range jsonbNumbers {
			var out string
			err := s.DB().Raw("SELECT CAST(? AS jsonb)::text", `{"n":`+c.num+`}`).Scan(&out).Error
			if (err == nil) != c.fits {
				t.Errorf("jsonb of %.30s (%d bytes): error %v, want fits=%v", c.num, len(c.num), err, c.fits)
			}
		}
	})
}
