package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// aliasBomb is the "billion laughs" in YAML: 9 levels of 9 aliases each,
// 9^9 (387 million) strings once expanded, in 400 bytes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("source:\n  url: https://example.org/events\n")
	b.WriteString(`l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// A config file that is not what it should be is refused with the line
// and the reason, in the YAML library's words.
func TestBadYAMLSaysLineAndReason(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"duplicate key", "source:\n  url: https://a.example/events\n  url: https://b.example/events\n",
			[]string{`line 3: mapping key "url" already defined at line 2`}},
		{"syntax", "source:\n  url: [unclosed\n", []string{"line 1: did not find expected"}},
		{"alias bomb", aliasBomb(), []string{"line 7: the aliases add more than 10000 values"}},
		{"not a mapping", "- source\n- feeds\n", []string{"line 1: the file must be a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			write(t, "trafficctl.yaml", tt.file)
			_, err := Load(Options{})
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want a configuration error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q in it", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err spans lines: %q", err)
			}
		})
	}
}

// Aliases that add a few values, as a shared block of settings does, are
// read as before.
func TestModestAliasesAreRead(t *testing.T) {
	inDir(t)
	write(t, "trafficctl.yaml", `common: &common
  timeout: 7s
  retries: 1
feeds:
  one:
    url: https://a.example/events
    <<: *common
  two:
    url: https://b.example/events
    <<: *common
`)
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Feeds {
		if f.Timeout.String() != "7s" || f.Retries != 1 {
			t.Errorf("feed %s: timeout %v retries %d, want the aliased 7s and 1", f.Name, f.Timeout, f.Retries)
		}
	}
}

// Feed names, and any two keys of one mapping, that differ only in case
// are refused: one of them was silently dropped.
func TestKeysThatDifferOnlyInCaseAreRefused(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"feeds", "feeds:\n  Bay:\n    url: https://a.example/events\n  bay:\n    url: https://b.example/events\n",
			"feeds.Bay (line 2) and feeds.bay (line 4) differ only in case"},
		{"settings", "source:\n  url: https://a.example/events\n  Timeout: 5s\n  timeout: 9s\n",
			"source.Timeout (line 3) and source.timeout (line 4) differ only in case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inDir(t)
			write(t, "trafficctl.yaml", tt.file)
			_, err := Load(Options{})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a configuration error saying %q", err, tt.want)
			}
		})
	}
}

// Feeds a-b and a_b would share TRAFFICCTL_FEEDS_A_B_URL, which re-pointed
// both: such a pair is refused, whether or not the variable is set.
func TestFeedsSharingEnvironmentNamesAreRefused(t *testing.T) {
	inDir(t)
	write(t, "trafficctl.yaml", "feeds:\n  a-b:\n    url: https://a.example/events\n  a_b:\n    url: https://b.example/events\n")
	_, err := Load(Options{})
	want := "feeds a-b and a_b differ only in - and _, and would share the variables TRAFFICCTL_FEEDS_A_B_*"
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a configuration error saying %q", err, want)
	}
}

// A config file over MaxFileBytes is refused before it is parsed: the YAML
// library takes time that grows with the square of a mapping's keys.
func TestOversizedConfigFileIsRefused(t *testing.T) {
	inDir(t)
	var b strings.Builder
	b.WriteString("source:\n  params:\n")
	for i := 0; b.Len() <= MaxFileBytes; i++ {
		fmt.Fprintf(&b, "    k%d: v\n", i)
	}
	write(t, "trafficctl.yaml", b.String())
	_, err := Load(Options{})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "config file trafficctl.yaml is larger than 64 KiB") {
		t.Fatalf("err = %v, want a configuration error saying the file is too large", err)
	}
}

// BenchmarkLoadLargestConfig loads the slowest config file there can be:
// one mapping with as many keys as fit in MaxFileBytes.
func BenchmarkLoadLargestConfig(b *testing.B) {
	var f strings.Builder
	f.WriteString("source:\n  params:\n")
	for i := 0; f.Len() < MaxFileBytes-20; i++ {
		fmt.Fprintf(&f, "    %x: v\n", i)
	}
	b.Chdir(b.TempDir())
	if err := os.WriteFile("trafficctl.yaml", []byte(f.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
