package main

import (
	"encoding/base64"
	"encoding/json"
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

// formatValue formats a feature value, as the client returns it, for a
// table cell: a timestamp in RFC 3339 (UTC), a list as a JSON array, json and
// map values as their text, bytes in base64.
func formatValue(v any) string {
	if v == nil {
		return "null"
	}
	if items, ok := listItems(v); ok {
		return "[" + strings.Join(items, ", ") + "]"
	}
	switch x := v.(type) {
	case time.Time:
		return formatTime(x)
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// listItems formats the items of a list value as JSON (floats as
// formatFloat does, which JSON lacks for infinities).
func listItems(v any) ([]string, bool) {
	var out []string
	switch x := v.(type) {
	case []float32:
		for _, f := range x {
			out = append(out, formatFloat(float64(f), 32))
		}
	case []float64:
		for _, f := range x {
			out = append(out, formatFloat(f, 64))
		}
	case []int32:
		for _, n := range x {
			out = append(out, strconv.FormatInt(int64(n), 10))
		}
	case []int64:
		for _, n := range x {
			out = append(out, strconv.FormatInt(n, 10))
		}
	case []time.Time:
		for _, at := range x {
			out = append(out, jsonString(formatTime(at)))
		}
	case []bool:
		for _, b := range x {
			out = append(out, strconv.FormatBool(b))
		}
	case []string:
		for _, s := range x {
			out = append(out, jsonString(s))
		}
	case [][]byte:
		for _, b := range x {
			out = append(out, jsonString(base64.StdEncoding.EncodeToString(b)))
		}
	default:
		return nil, false
	}
	return out, true
}

// jsonString quotes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
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

// formatTime formats a time in UTC, RFC 3339 to the nanosecond.
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
