package traffic

import (
	"strconv"
	"time"
)

// Text is field f of e as text, as the CSV export writes it: floats as the
// shortest decimal that reads back the same, times as RFC 3339 UTC with
// seconds. ok is false for NULL (a nil float or time).
func (f Field) Text(e *Event) (text string, ok bool) {
	switch p := f.Ref(e).(type) {
	case *string:
		return *p, true
	case **float64:
		if *p == nil {
			return "", false
		}
		return strconv.FormatFloat(**p, 'f', -1, 64), true
	case **time.Time:
		if *p == nil {
			return "", false
		}
		return (*p).UTC().Format(time.RFC3339), true
	}
	return "", false
}
