package wzdx

import (
	"errors"
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/traffic"
)

// A hostile document nested two million deep overflowed the validator's
// stack, which kills the process: it must be refused with one sentence.
func TestDocumentNestedTooDeepIsRefused(t *testing.T) {
	body := []byte(`{"type":"FeatureCollection","features":` + strings.Repeat("[", 2_000_000))
	if _, err := readDocument(body); !errors.Is(err, traffic.ErrTooDeep) {
		t.Fatalf("readDocument of a body nested 2,000,000 deep: %v, want %v", err, traffic.ErrTooDeep)
	}
}
