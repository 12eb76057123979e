package export

import (
	"bufio"
	"strings"
	"unicode"
	"unicode/utf8"
)

// csvWriter writes RFC 4180 CSV: a header row, CRLF after each record, and
// a field in double quotes when it holds a comma, a quote, CR or LF (or
// starts with white space, as encoding/csv does), with its quotes doubled
// and every other byte as it is. encoding/csv's Writer with UseCRLF would
// write a "\n" inside a field as "\r\n" and drop a lone "\r", so a
// description would not read back as it was stored.
type csvWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (c *csvWriter) header(cols []Column) error {
	c.buf = c.buf[:0]
	for i, col := range cols {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = appendCSVField(c.buf, col.Name)
	}
	c.buf = append(c.buf, '\r', '\n')
	_, err := c.w.Write(c.buf)
	return err
}

func (c *csvWriter) row(cols []Column, cells []Cell) error {
	c.buf = c.buf[:0]
	for i := range cells {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		if k := cols[i].Kind; k == Text || k == JSON {
			c.buf = appendCSVField(c.buf, cells[i].S)
			continue
		}
		c.buf = appendCell(c.buf, cols[i].Kind, &cells[i]) // digits, signs, '.', ':', '-': never quoted
	}
	c.buf = append(c.buf, '\r', '\n')
	_, err := c.w.Write(c.buf)
	return err
}

func (c *csvWriter) end() error { return nil }

func appendCSVField(b []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// csvNeedsQuotes follows encoding/csv's rule, so fields without line
// breaks are written as before.
func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` || strings.ContainsAny(s, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}
