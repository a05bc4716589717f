package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// textTable writes aligned columns for people: a header, then rows, with
// columns marked numeric aligned right.
type textTable struct {
	header   []string
	numeric  []bool
	rows     [][]string
	indent   string // before every line
	noHeader bool
}

func newTable(header ...string) *textTable {
	return &textTable{header: header, numeric: make([]bool, len(header))}
}

// alignRight marks columns (by index) as right-aligned.
func (t *textTable) alignRight(cols ...int) *textTable {
	for _, c := range cols {
		t.numeric[c] = true
	}
	return t
}

func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *textTable) write(w io.Writer) {
	width := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			if i < len(width) {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(row []string) {
		var b strings.Builder
		b.WriteString(t.indent)
		for i, c := range row {
			if i >= len(width) {
				break
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.numeric[i] {
				b.WriteString(pad + c)
			} else if i < len(row)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if !t.noHeader {
		line(t.header)
	}
	for _, row := range t.rows {
		line(row)
	}
}

// formatValue formats a feature value for a table cell.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []float32:
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = formatFloat(float64(f), 32)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func formatFloat(x float64, bits int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Sprint(x)
	}
	return strconv.FormatFloat(x, 'g', -1, bits)
}

// formatNumber formats a statistic compactly: 4 significant digits.
func formatNumber(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Sprint(x)
	}
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return count(int64(x))
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// formatTime formats a time in UTC, RFC 3339.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// percent formats a fraction as a percentage.
func percent(f float64) string {
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}
