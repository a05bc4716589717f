package tableio

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// csvReader reads a CSV file with a header line into Arrow records. An
// empty cell is null.
type csvReader struct {
	path   string
	f      *os.File
	r      *csv.Reader
	schema *arrow.Schema
	conv   []func(array.Builder, string) error
	bld    *array.RecordBuilder
	rec    arrow.Record
	err    error
	refs   atomic.Int64
}

func openCSV(path string, typeOf func(col string) (arrow.DataType, error)) (*Table, error) {
	header, err := csvHeader(path)
	if err != nil {
		return nil, err
	}
	types := make([]arrow.DataType, len(header))
	var infer []int
	for i, name := range header {
		if types[i], err = typeOf(name); err != nil {
			return nil, err
		}
		if types[i] == nil {
			infer = append(infer, i)
		}
	}
	if len(infer) > 0 {
		if err := inferCSVTypes(path, types, infer); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &csvReader{path: path, f: f, r: newCSV(f)}
	if _, err := c.r.Read(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	fields := make([]arrow.Field, len(header))
	c.conv = make([]func(array.Builder, string) error, len(header))
	for i, name := range header {
		c.conv[i] = csvConverter(types[i])
		if _, ok := types[i].(*jsonType); ok {
			types[i] = arrow.BinaryTypes.String
		}
		fields[i] = arrow.Field{Name: name, Type: types[i], Nullable: true}
	}
	c.schema = arrow.NewSchema(fields, nil)
	c.bld = array.NewRecordBuilder(memory.DefaultAllocator, c.schema)
	c.refs.Store(1)
	return &Table{Unit: "bytes", Total: st.Size(), r: c, done: c.r.InputOffset, close: c.Release}, nil
}

// newCSV returns a reader of CSV records. It allows rows of any length, so
// that Next can name a row with the wrong number of cells by its line.
func newCSV(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	return cr
}

// csvHeader reads the column names of a CSV file, refusing duplicates.
func csvHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header, err := newCSV(f).Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s is empty; expected a header line naming the columns", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	header = append([]string(nil), header...)
	seen := map[string]bool{}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if seen[header[i]] {
			return nil, fmt.Errorf("%s: column %q appears twice in the header", path, header[i])
		}
		seen[header[i]] = true
	}
	return header, nil
}

// inferCSVTypes reads the whole file to pick a type for the columns at
// idx: int64, double, bool or a timestamp when every non-empty cell
// parses as one, else string.
func inferCSVTypes(path string, types []arrow.DataType, idx []int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := newCSV(f)
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	const isInt, isFloat, isBool, isTime = 1, 2, 4, 8
	can := make([]int, len(idx))
	for i := range can {
		can[i] = isInt | isFloat | isBool | isTime
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		for i, col := range idx {
			if col >= len(rec) || can[i] == 0 {
				continue
			}
			s := strings.TrimSpace(rec[col])
			if s == "" {
				continue
			}
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				can[i] &^= isInt
			}
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				can[i] &^= isFloat
			}
			if l := strings.ToLower(s); l != "true" && l != "false" {
				can[i] &^= isBool
			}
			if _, err := parseCSVTime(s); err != nil {
				can[i] &^= isTime
			}
		}
	}
	for i, col := range idx {
		switch c := can[i]; {
		case c&isInt != 0:
			types[col] = arrow.PrimitiveTypes.Int64
		case c&isFloat != 0:
			types[col] = arrow.PrimitiveTypes.Float64
		case c&isBool != 0:
			types[col] = arrow.FixedWidthTypes.Boolean
		case c&isTime != 0:
			types[col] = arrow.FixedWidthTypes.Timestamp_ns
		default:
			types[col] = arrow.BinaryTypes.String
		}
	}
	return nil
}

func (c *csvReader) Schema() *arrow.Schema { return c.schema }

func (c *csvReader) Record() arrow.Record { return c.rec }

func (c *csvReader) Err() error { return c.err }

func (c *csvReader) Retain() { c.refs.Add(1) }

func (c *csvReader) Release() {
	if c.refs.Add(-1) == 0 {
		if c.rec != nil {
			c.rec.Release()
			c.rec = nil
		}
		c.bld.Release()
		c.f.Close()
	}
}

func (c *csvReader) Next() bool {
	if c.rec != nil {
		c.rec.Release()
		c.rec = nil
	}
	if c.err != nil {
		return false
	}
	n := 0
	for n < batchRows {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.err = fmt.Errorf("%s: %v", c.path, err)
			return false
		}
		if len(rec) != len(c.conv) {
			line, _ := c.r.FieldPos(0)
			c.err = fmt.Errorf("%s:%d: %d cells, but the header names %d columns", c.path, line, len(rec), len(c.conv))
			return false
		}
		for i, s := range rec {
			if err := c.conv[i](c.bld.Field(i), s); err != nil {
				line, _ := c.r.FieldPos(i)
				c.err = fmt.Errorf("%s:%d: column %q: %v", c.path, line, c.schema.Field(i).Name, err)
				return false
			}
		}
		n++
	}
	if n == 0 {
		return false
	}
	c.rec = c.bld.NewRecord()
	return true
}

// csvConverter returns a function appending one cell, parsed as t.
func csvConverter(t arrow.DataType) func(array.Builder, string) error {
	if jt, ok := t.(*jsonType); ok {
		return func(b array.Builder, s string) error {
			if strings.TrimSpace(s) == "" {
				b.AppendNull()
				return nil
			}
			if err := checkJSON(s, jt.object); err != nil {
				return err
			}
			b.(*array.StringBuilder).Append(s)
			return nil
		}
	}
	return func(b array.Builder, s string) error {
		if strings.TrimSpace(s) == "" {
			b.AppendNull()
			return nil
		}
		if b, ok := b.(*array.StringBuilder); ok {
			b.Append(s)
			return nil
		}
		if b, ok := b.(*array.ListBuilder); ok {
			return appendList(b, s)
		}
		return appendCell(b, strings.TrimSpace(s))
	}
}

// appendCell appends a trimmed cell to a builder of a scalar type but
// string.
func appendCell(b array.Builder, s string) error {
	switch b := b.(type) {
	case *array.Int64Builder:
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("expected an int64, got %q", s)
		}
		b.Append(x)
	case *array.Int32Builder:
		x, err := parseInt32(s)
		if err != nil {
			return err
		}
		b.Append(x)
	case *array.Float64Builder:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("expected a double, got %q", s)
		}
		b.Append(x)
	case *array.Float32Builder:
		x, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return fmt.Errorf("expected a float, got %q", s)
		}
		b.Append(float32(x))
	case *array.BooleanBuilder:
		x, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("expected true or false, got %q", s)
		}
		b.Append(x)
	case *array.BinaryBuilder:
		x, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("expected base64-encoded bytes, got %q", s)
		}
		b.Append(x)
	case *array.TimestampBuilder:
		x, err := parseCSVTime(s)
		if err != nil {
			return err
		}
		b.Append(arrow.Timestamp(x.UnixNano()))
	default:
		return fmt.Errorf("cannot read a %s from CSV", b.Type())
	}
	return nil
}

// parseInt32 parses a decimal int32.
func parseInt32(s string) (int32, error) {
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s does not fit in an int32", s)
		}
		return 0, fmt.Errorf("expected an int32, got %q", s)
	}
	if x != int64(int32(x)) {
		return 0, fmt.Errorf("%d does not fit in an int32", x)
	}
	return int32(x), nil
}

// checkJSON reports why a cell is not JSON text, or not a JSON object.
func checkJSON(s string, object bool) error {
	if !json.Valid([]byte(s)) {
		var v any
		err := json.Unmarshal([]byte(s), &v)
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if object && !strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{") {
		return fmt.Errorf("a map is a JSON object ({\"key\": value, ...}), got %.40s", s)
	}
	return nil
}

// appendList appends a list cell: a JSON array of the items, with no null
// item. Items of a bytes list are base64 strings, of a timestamp list
// strings in the form of a time cell. A float or double list may also be
// written without brackets, or in braces: 0.1, 0.2 or {0.1, 0.2}.
func appendList(b *array.ListBuilder, s string) error {
	elem := b.ValueBuilder()
	switch eb := elem.(type) {
	case *array.Float32Builder:
		xs, err := parseFloats(s, 32)
		if err != nil {
			return err
		}
		b.Append(true)
		for _, x := range xs {
			eb.Append(float32(x))
		}
		return nil
	case *array.Float64Builder:
		xs, err := parseFloats(s, 64)
		if err != nil {
			return err
		}
		b.Append(true)
		eb.AppendValues(xs, nil)
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(s), &items); err != nil || items == nil {
		return fmt.Errorf("expected a %s as a JSON array like %s, got %q", listName(elem), listExample(elem), s)
	}
	// Parse every item first, so that a refused cell appends nothing.
	appends := make([]func(), len(items))
	for i, raw := range items {
		item := string(raw)
		if item == "null" {
			return fmt.Errorf("item %d is null; a list holds no null items (write null for the whole list)", i)
		}
		var err error
		if appends[i], err = listItem(elem, item); err != nil {
			return fmt.Errorf("item %d: %v", i, err)
		}
	}
	b.Append(true)
	for _, f := range appends {
		f()
	}
	return nil
}

// listItem parses one item of a JSON array for a list's item builder, and
// returns the function appending it.
func listItem(elem array.Builder, item string) (func(), error) {
	var str string
	isString := item[0] == '"'
	if isString {
		if !utf8.ValidString(item) {
			return nil, fmt.Errorf("not valid UTF-8")
		}
		if err := json.Unmarshal([]byte(item), &str); err != nil {
			return nil, fmt.Errorf("expected a string, got %s", item)
		}
	}
	switch eb := elem.(type) {
	case *array.Int64Builder:
		x, err := strconv.ParseInt(item, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected an int64, got %s", item)
		}
		return func() { eb.Append(x) }, nil
	case *array.Int32Builder:
		if isString {
			return nil, fmt.Errorf("expected an int32, got %s", item)
		}
		x, err := parseInt32(item)
		if err != nil {
			return nil, err
		}
		return func() { eb.Append(x) }, nil
	case *array.BooleanBuilder:
		if item != "true" && item != "false" {
			return nil, fmt.Errorf("expected true or false, got %s", item)
		}
		return func() { eb.Append(item == "true") }, nil
	case *array.StringBuilder:
		if !isString {
			return nil, fmt.Errorf("expected a string, got %s", item)
		}
		return func() { eb.Append(str) }, nil
	case *array.BinaryBuilder:
		x, err := base64.StdEncoding.DecodeString(str)
		if !isString || err != nil {
			return nil, fmt.Errorf("expected base64-encoded bytes in a string, got %s", item)
		}
		return func() { eb.Append(x) }, nil
	case *array.TimestampBuilder:
		if !isString {
			return nil, fmt.Errorf("expected a time in a string, like \"2024-01-31T12:00:00Z\", got %s", item)
		}
		x, err := parseCSVTime(str)
		if err != nil {
			return nil, err
		}
		return func() { eb.Append(arrow.Timestamp(x.UnixNano())) }, nil
	}
	return nil, fmt.Errorf("cannot read a list of %s from CSV", elem.Type())
}

// listName names the list type of an item builder, for errors.
func listName(elem array.Builder) string {
	switch elem.(type) {
	case *array.Int64Builder:
		return "list of int64"
	case *array.Int32Builder:
		return "list of int32"
	case *array.BooleanBuilder:
		return "list of bools"
	case *array.StringBuilder:
		return "list of strings"
	case *array.BinaryBuilder:
		return "list of bytes"
	case *array.TimestampBuilder:
		return "list of times"
	}
	return "list"
}

// listExample is a cell of a list of the item builder's type.
func listExample(elem array.Builder) string {
	switch elem.(type) {
	case *array.BooleanBuilder:
		return "[true, false]"
	case *array.StringBuilder:
		return `["a", "b"]`
	case *array.BinaryBuilder:
		return `["aGk=", ""]`
	case *array.TimestampBuilder:
		return `["2024-01-31T12:00:00Z"]`
	}
	return "[1, 2, 3]"
}

// parseFloats parses a float or double list: "[1, 2.5, 3]" (brackets or
// braces optional).
func parseFloats(s string, bits int) ([]float64, error) {
	in := strings.TrimSpace(s)
	in = strings.TrimSuffix(strings.TrimPrefix(in, "["), "]")
	in = strings.TrimSuffix(strings.TrimPrefix(in, "{"), "}")
	if strings.TrimSpace(in) == "" {
		return []float64{}, nil
	}
	parts := strings.Split(in, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "null" {
			return nil, fmt.Errorf("item %d is null; a list holds no null items (write null for the whole list)", i)
		}
		x, err := strconv.ParseFloat(p, bits)
		if err != nil {
			kind := "floats"
			if bits == 64 {
				kind = "doubles"
			}
			return nil, fmt.Errorf("expected a list of %s like [0.1, 0.2], got %q", kind, s)
		}
		out[i] = x
	}
	return out, nil
}

var csvTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// The times a cell may hold: those of int64 Unix nanoseconds.
var (
	minCSVTime = time.Unix(0, math.MinInt64)
	maxCSVTime = time.Unix(0, math.MaxInt64)
)

// parseCSVTime parses a time cell: RFC 3339, or "2006-01-02 15:04:05" with
// an optional zone (UTC without one), or a date (its midnight in UTC).
func parseCSVTime(s string) (time.Time, error) {
	for _, layout := range csvTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Before(minCSVTime) || t.After(maxCSVTime) {
				return time.Time{}, fmt.Errorf("time %q is outside the supported range 1678 to 2262", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expected a time like 2024-01-31T12:00:00Z, got %q", s)
}
