package traffic

import "testing"

// TestCanonicalCleansKeysBeforeSorting: keys are made valid text before
// they are sorted and compared, so the output has each key once (the
// feed's last, as encoding/json and jsonb keep it), in order, and is its
// own canonical form.
func TestCanonicalCleansKeysBeforeSorting(t *testing.T) {
	for in, want := range map[string]string{
		`{"k\u0000":1,"k":2}`:                    `{"k":2}`,
		`{"k":2,"k\u0000":1}`:                    `{"k":1}`,
		"{\"\xffa\":1,\"\xfea\":2}":              "{\"\uFFFDa\":2}",
		`{"\u0000z":1,"a":2}`:                    `{"a":2,"z":1}`,
		`{"o":{"b\u0000":1,"b":[{"\u0000":0}]}}`: `{"o":{"b":[{"":0}]}}`,
	} {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%q) = %s (%v), want %s", in, got, err, want)
			continue
		}
		if again, _ := Canonical(got); string(again) != string(got) {
			t.Errorf("Canonical(%s) = %s: not its own canonical form", got, again)
		}
	}
}
