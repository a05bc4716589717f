package server

import (
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/timefence/timefence/storage"
)

// maxKeyBytes bounds the join key values of one entity key together (8
// bytes per int64 key, the length of each string key). Keys this long are
// almost surely a mistake, and the bound keeps what a spine or lookup holds
// per key in check.
const maxKeyBytes = 64_000

// maxEncodedKeyBytes bounds the encoded entity key, which also holds each
// string key's length.
const maxEncodedKeyBytes = 65_000 - 64

// checkKeySize refuses an entity key too long for the store, naming the row
// (rowFormat with row) and its longest string key. The label is formatted
// only on a refusal: this runs on every written row.
func checkKeySize(keys []storage.JoinKey, key []storage.Value, rowFormat string, row int) error {
	size, encoded := 0, 0
	longest, longestLen := -1, 0
	for j, v := range key {
		n := 8
		if v.Type == storage.TypeString {
			n = len(v.Str)
			encoded += uvarintLen(n)
			if n > longestLen {
				longest, longestLen = j, n
			}
		}
		size += n
		encoded += n
	}
	if size <= maxKeyBytes && encoded <= maxEncodedKeyBytes {
		return nil
	}
	what := fmt.Sprintf("the join key values hold %d bytes", size)
	if longest >= 0 && longest < len(keys) {
		what = fmt.Sprintf("join key %q holds %d bytes", keys[longest].Name, longestLen)
		if size > longestLen {
			what += fmt.Sprintf(" (%d with the other join keys)", size)
		}
	}
	return invalid(fmt.Sprintf("%s: %s; an entity key may hold at most %d bytes", fmt.Sprintf(rowFormat, row), what, maxKeyBytes))
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// checkUTF8 refuses a string column holding a value that is not valid
// UTF-8, naming the row; row0 is the row number of the column's first row
// and what names the column. The column's bytes are checked at once; rows
// are looked at one by one only to find the culprit.
func checkUTF8(arr arrow.Array, row0 int, what string) error {
	var ok bool
	var value func(i int) string
	switch a := arr.(type) {
	case *array.String:
		ok, value = validStrings(a.ValueBytes(), a.ValueOffsets()), a.Value
	case *array.LargeString:
		ok, value = validStrings(a.ValueBytes(), a.ValueOffsets()), a.Value
	default:
		return nil
	}
	if ok {
		return nil
	}
	for i := range arr.Len() {
		if arr.IsValid(i) && !utf8.ValidString(value(i)) {
			return invalid(fmt.Sprintf("row %d: %s: string is not valid UTF-8", row0+i, what))
		}
	}
	return nil
}

// validStrings reports whether every value of a string column is valid
// UTF-8: the bytes are, and no value starts inside a character.
func validStrings[T int32 | int64](data []byte, offsets []T) bool {
	if !utf8.Valid(data) {
		return false
	}
	if len(offsets) < 2 {
		return true
	}
	base := offsets[0]
	for _, o := range offsets[1 : len(offsets)-1] {
		if p := int(o - base); p < len(data) && !utf8.RuneStart(data[p]) {
			return false
		}
	}
	return true
}

// checkStrings refuses a record of a bulk write holding a string key or
// value that is not valid UTF-8; row0 is the batch row of its first row.
func checkStrings(keys, feats []*column, row0 int) error {
	for _, k := range keys {
		if err := checkUTF8(k.arr, row0, fmt.Sprintf("join key column %q", k.name)); err != nil {
			return err
		}
	}
	for _, f := range feats {
		if err := checkUTF8(f.arr, row0, fmt.Sprintf("column %q", f.name)); err != nil {
			return err
		}
	}
	return nil
}

// checkDistinct refuses a table with two columns of the same name.
func checkDistinct(schema *arrow.Schema) error {
	seen := make(map[string]bool, schema.NumFields())
	for _, f := range schema.Fields() {
		if seen[f.Name] {
			return invalid(fmt.Sprintf("arrow stream: column %q appears twice; name each column once", f.Name))
		}
		seen[f.Name] = true
	}
	return nil
}

// checkValue refuses a value that is not one of its type (see
// storage.Value.Check: NaN, in a list or not, an int32 out of range, JSON
// that does not parse, a map that is not an object), naming the row
// (labelled as in checkKeySize) and the feature; the store checks again.
func checkValue(v storage.Value, rowFormat string, row int, feature string) error {
	if err := v.Check(); err != nil {
		return invalid(fmt.Sprintf("%s: feature %q: %v", fmt.Sprintf(rowFormat, row), feature, err))
	}
	return nil
}

// refusable reports whether Value.Check may refuse a value of type t read
// from an Arrow column that newColumn accepts for t, but for a NaN float,
// which checkWriteRecord finds column by column.
func refusable(t storage.Type) bool {
	return t == storage.TypeInt32 || t == storage.TypeJSON || t == storage.TypeMap || t.IsList()
}
