package open511

import (
	"errors"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// A hostile body nested two million deep overflowed the validator's stack,
// which kills the process: it must be refused with one sentence instead.
func TestPageNestedTooDeepIsRefused(t *testing.T) {
	body := []byte(`{"events":` + strings.Repeat("[", 2_000_000))
	if _, err := readPage(body); !errors.Is(err, traffic.ErrTooDeep) {
		t.Fatalf("readPage of a body nested 2,000,000 deep: %v, want %v", err, traffic.ErrTooDeep)
	}
}
