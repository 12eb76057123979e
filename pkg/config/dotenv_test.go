package config

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// A .env line that does not parse is named by its number, never shown: it
// is most likely the one that holds the key. (gotenv sets nothing from a
// file that fails, so the variables A and B stay unset.)
func TestBadDotEnvLineIsNamedNotShown(t *testing.T) {
	tests := []struct {
		name, env string
		line      int
	}{
		{"no equals sign", "# trafficctl\nTRAFFICCTL_SOURCE_RETRIES=1\nTRAFFICCTL_API_KEY SEKRETKEY\nTRAFFICCTL_LOG_LEVEL=info\n", 3},
		{"first line", "TRAFFICCTL_API_KEY SEKRETKEY", 1},
		{"CRLF line ends", "A=1\r\nB=2\r\nTRAFFICCTL_API_KEY SEKRETKEY\r\n", 3},
		{"after a value on several lines", "A=\"one\ntwo\"\nB=2\n\nTRAFFICCTL_API_KEY SEKRETKEY\n", 5},
		{"quote never closed", "A=1\nTRAFFICCTL_API_KEY=\"SEKRETKEY\nB=2\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			write(t, ".env", tt.env)
			_, err := Load(Options{})
			t.Cleanup(func() { os.Unsetenv("A"); os.Unsetenv("B") })
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want a configuration error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "SEKRET") {
				t.Errorf("the error shows the line: %s", msg)
			}
			want := "read .env: line " + strconv.Itoa(tt.line) + " "
			if !strings.Contains(msg, want) {
				t.Errorf("err = %s, want %q", msg, want)
			}
		})
	}
}
