package traffic

import (
	"strings"
	"testing"
)

func TestNestedDeeperThanCountsBracketsOutsideStrings(t *testing.T) {
	for _, tc := range []struct {
		json string
		max  int
		want bool
	}{
		{`[[1]]`, 2, false},
		{`[[[1]]]`, 2, true},
		{`{"a":{"b":[1]}}`, 3, false},
		{`{"a":{"b":[[1]]}}`, 3, true},
		{`["[[[[", "{{{{"]`, 1, false},      // brackets in strings
		{`["\"[[[[", "x"]`, 1, false},       // an escaped quote does not end the string
		{`[[],[],[],[],[]]`, 2, false},      // many brackets, shallow
		{strings.Repeat("[", 50), 49, true}, // unclosed
	} {
		if got := NestedDeeperThan([]byte(tc.json), tc.max); got != tc.want {
			t.Errorf("NestedDeeperThan(%s, %d) = %v, want %v", tc.json, tc.max, got, tc.want)
		}
	}
}
