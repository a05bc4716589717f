package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is the type of a join key or feature value.
type Type uint8

// Types. Their numbers are stored on disk and match the API's ValueType;
// never renumber them.
const (
	TypeNull Type = iota
	TypeInt64
	TypeFloat64
	TypeFloat32
	TypeString
	TypeBool
	TypeBytes
	TypeFloatList // a list of float32
	TypeInt32
	TypeTimestamp // a point in time, in Unix nanoseconds (UTC)
	TypeJSON      // any JSON value, as JSON text
	TypeMap       // a JSON object, as JSON text
	TypeInt32List
	TypeInt64List
	TypeFloat64List
	TypeStringList
	TypeBoolList
	TypeBytesList
	TypeTimestampList
	typeEnd
)

var typeNames = [...]string{"null", "int64", "double", "float", "string", "bool", "bytes", "float_list",
	"int32", "timestamp", "json", "map",
	"int32_list", "int64_list", "double_list", "string_list", "bool_list", "bytes_list", "timestamp_list"}

// listElems maps each list type to its item type (TypeNull for the others).
var listElems = [typeEnd]Type{
	TypeFloatList: TypeFloat32, TypeInt32List: TypeInt32, TypeInt64List: TypeInt64,
	TypeFloat64List: TypeFloat64, TypeStringList: TypeString, TypeBoolList: TypeBool,
	TypeBytesList: TypeBytes, TypeTimestampList: TypeTimestamp,
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseType returns the type named name ("int64", "double_list", ...).
func ParseType(name string) (Type, bool) {
	for i, n := range typeNames[1:] {
		if n == name {
			return Type(i + 1), true
		}
	}
	return TypeNull, false
}

// Valid reports whether t names a feature type (not null).
func (t Type) Valid() bool { return t > TypeNull && t < typeEnd }

// Elem returns the item type of a list type, and TypeNull for other types.
func (t Type) Elem() Type {
	if t >= typeEnd {
		return TypeNull
	}
	return listElems[t]
}

// IsList reports whether t is a list type.
func (t Type) IsList() bool { return t.Elem() != TypeNull }

// ListOf returns the list type whose items are of type t, or TypeNull.
func ListOf(t Type) Type {
	for l, e := range listElems {
		if e == t && t != TypeNull {
			return Type(l)
		}
	}
	return TypeNull
}

// WidensTo reports whether every value of type t is also a value of type u,
// read unchanged: int32 to int64, float to double, and their lists. A
// feature's type may change only this way (or not at all).
func (t Type) WidensTo(u Type) bool {
	switch {
	case t == u:
		return true
	case t.IsList():
		return u.IsList() && t.Elem().WidensTo(u.Elem())
	}
	return t == TypeInt32 && u == TypeInt64 || t == TypeFloat32 && u == TypeFloat64
}

// layout is how a column holds a type's values (see Column).
type layout uint8

const (
	layoutInt64     layout = iota // int64, int32, timestamp: Int64
	layoutFloat64                 // double: Float64
	layoutFloat32                 // float: Float32
	layoutBool                    // bool: Bool
	layoutBytes                   // string, bytes, JSON, map and lists but float_list: Offsets into Data
	layoutFloatList               // float_list: Offsets into Float32
)

func (t Type) layout() layout {
	switch t {
	case TypeInt64, TypeInt32, TypeTimestamp:
		return layoutInt64
	case TypeFloat64:
		return layoutFloat64
	case TypeFloat32:
		return layoutFloat32
	case TypeBool:
		return layoutBool
	case TypeFloatList:
		return layoutFloatList
	}
	return layoutBytes
}

// Value is one typed value. The zero Value is null.
//
// Int holds int64, int32, timestamp and bool (0/1); Float holds double and
// float; Str holds string, bytes, JSON and map, and every list packed: its
// items one after another, 8 bytes each for int32, int64, timestamp and
// double items, 4 for float, 1 for bool, and a uvarint length before the
// bytes of each string or bytes item (all little endian).
type Value struct {
	Type  Type
	Int   int64
	Float float64
	Str   string
}

// Constructors for values.
func Int64(v int64) Value       { return Value{Type: TypeInt64, Int: v} }
func Int32(v int32) Value       { return Value{Type: TypeInt32, Int: int64(v)} }
func Timestamp(ns int64) Value  { return Value{Type: TypeTimestamp, Int: ns} }
func Float64(v float64) Value   { return Value{Type: TypeFloat64, Float: v} }
func Float32(v float32) Value   { return Value{Type: TypeFloat32, Float: float64(v)} }
func String(v string) Value     { return Value{Type: TypeString, Str: v} }
func Bytes(v []byte) Value      { return Value{Type: TypeBytes, Str: string(v)} }
func JSON(text string) Value    { return Value{Type: TypeJSON, Str: text} }
func Map(jsonText string) Value { return Value{Type: TypeMap, Str: jsonText} }
func Bool(v bool) Value {
	if v {
		return Value{Type: TypeBool, Int: 1}
	}
	return Value{Type: TypeBool}
}

// List constructors.
func Int64List(v []int64) Value     { return packInts(TypeInt64List, v) }
func TimestampList(v []int64) Value { return packInts(TypeTimestampList, v) }
func Int32List(v []int32) Value {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(int64(x)))
	}
	return Value{Type: TypeInt32List, Str: string(b)}
}
func Float64List(v []float64) Value {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return Value{Type: TypeFloat64List, Str: string(b)}
}
func FloatList(v []float32) Value {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return Value{Type: TypeFloatList, Str: string(b)}
}
func BoolList(v []bool) Value {
	b := make([]byte, len(v))
	for i, x := range v {
		if x {
			b[i] = 1
		}
	}
	return Value{Type: TypeBoolList, Str: string(b)}
}
func StringList(v []string) Value { return packStrings(TypeStringList, v) }
func BytesList(v [][]byte) Value {
	var b []byte
	for _, x := range v {
		b = binary.AppendUvarint(b, uint64(len(x)))
		b = append(b, x...)
	}
	return Value{Type: TypeBytesList, Str: string(b)}
}

func packInts(t Type, v []int64) Value {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return Value{Type: t, Str: string(b)}
}

func packStrings(t Type, v []string) Value {
	var b []byte
	for _, x := range v {
		b = binary.AppendUvarint(b, uint64(len(x)))
		b = append(b, x...)
	}
	return Value{Type: t, Str: string(b)}
}

// itemSize is the packed size of one item of list type t, 0 when items
// are length-prefixed.
func itemSize(t Type) int {
	switch t.Elem() {
	case TypeFloat32:
		return 4
	case TypeBool:
		return 1
	case TypeString, TypeBytes:
		return 0
	}
	return 8
}

// Ints returns the items of an int32, int64 or timestamp list.
func (v Value) Ints() []int64 {
	out := make([]int64, len(v.Str)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64([]byte(v.Str[8*i:])))
	}
	return out
}

// Floats returns the items of a double or float list.
func (v Value) Floats() []float64 {
	if v.Type == TypeFloatList {
		out := make([]float64, len(v.Str)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32([]byte(v.Str[4*i:]))))
		}
		return out
	}
	out := make([]float64, len(v.Str)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64([]byte(v.Str[8*i:])))
	}
	return out
}

// Float32s returns the items of a float list.
func (v Value) Float32s() []float32 {
	out := make([]float32, len(v.Str)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(v.Str[4*i:])))
	}
	return out
}

// Bools returns the items of a bool list.
func (v Value) Bools() []bool {
	out := make([]bool, len(v.Str))
	for i := range out {
		out[i] = v.Str[i] != 0
	}
	return out
}

// Strings returns the items of a string or bytes list. The packing must be
// well formed (see Check).
func (v Value) Strings() []string {
	var out []string
	for s := v.Str; len(s) > 0; {
		n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		out = append(out, s[w:w+int(n)])
		s = s[w+int(n):]
	}
	return out
}

// Len returns the number of items of a list.
func (v Value) Len() int {
	if size := itemSize(v.Type); size > 0 {
		return len(v.Str) / size
	}
	n := 0
	for s := v.Str; len(s) > 0; n++ {
		l, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		s = s[w+int(l):]
	}
	return n
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Type == TypeNull }

// Equal reports whether two values are identical (NaN-aware for floats;
// list items are compared bit for bit).
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	switch v.Type {
	case TypeFloat64, TypeFloat32:
		return v.Float == o.Float || (math.IsNaN(v.Float) && math.IsNaN(o.Float))
	}
	return v.Int == o.Int && v.Str == o.Str
}

// As returns v as a value of type t, where one of the two types widens to
// the other: a feature's stored versions are read as its type now, and a
// dataset recorded before a widening is re-read as its type then.
func (v Value) As(t Type) Value {
	switch {
	case v.Type == t || v.IsNull():
		return v
	case v.Type == TypeFloatList && t == TypeFloat64List:
		return Float64List(v.Floats())
	case v.Type == TypeFloat64List && t == TypeFloatList:
		f := v.Floats()
		out := make([]float32, len(f))
		for i, x := range f {
			out[i] = float32(x)
		}
		return FloatList(out)
	}
	// int32 and int64 share Int, float and double share Float, and int32
	// and int64 lists are packed alike.
	v.Type = t
	return v
}

// Check reports why v is not a value of its type: an int32 out of range,
// NaN (in a list or not), JSON that does not parse or a map that is not a
// JSON object, a string item that is not UTF-8, or a list packed wrong.
func (v Value) Check() error {
	switch v.Type {
	case TypeInt32:
		if v.Int != int64(int32(v.Int)) {
			return fmt.Errorf("%d does not fit in an int32", v.Int)
		}
	case TypeFloat64, TypeFloat32:
		if math.IsNaN(v.Float) {
			return fmt.Errorf("NaN is not a value; write null instead")
		}
	case TypeJSON, TypeMap:
		return checkJSON(v.Type, v.Str)
	}
	if !v.Type.IsList() {
		return nil
	}
	if err := v.checkPacking(); err != nil {
		return err
	}
	switch v.Type {
	case TypeInt32List:
		for i, x := range v.Ints() {
			if x != int64(int32(x)) {
				return fmt.Errorf("item %d: %d does not fit in an int32", i, x)
			}
		}
	case TypeFloatList, TypeFloat64List:
		for i, x := range v.Floats() {
			if math.IsNaN(x) {
				return fmt.Errorf("item %d is NaN; NaN is not a value, in a list or outside one; write null instead", i)
			}
		}
	}
	return nil
}

// checkPacking reports why a list's Str is not a whole number of items, or
// holds a string item that is not UTF-8.
func (v Value) checkPacking() error {
	if size := itemSize(v.Type); size > 0 {
		if len(v.Str)%size != 0 {
			return fmt.Errorf("a %s of %d bytes is not a whole number of %d-byte items", v.Type, len(v.Str), size)
		}
		return nil
	}
	for s, i := v.Str, 0; len(s) > 0; i++ {
		n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		if w <= 0 || uint64(len(s)-w) < n {
			return fmt.Errorf("item %d of a %s is cut short", i, v.Type)
		}
		if v.Type == TypeStringList && !utf8.ValidString(s[w:w+int(n)]) {
			return fmt.Errorf("item %d is not valid UTF-8", i)
		}
		s = s[w+int(n):]
	}
	return nil
}

// checkJSON reports why text is not a JSON value (an object, for a map).
func checkJSON(t Type, text string) error {
	if !json.Valid([]byte(text)) {
		var v any
		err := json.Unmarshal([]byte(text), &v)
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if t == TypeMap && !strings.HasPrefix(strings.TrimLeft(text, " \t\r\n"), "{") {
		return fmt.Errorf("a map is a JSON object ({\"key\": value, ...}), got %.40s", text)
	}
	return nil
}

func (v Value) String() string {
	switch v.Type {
	case TypeNull:
		return "null"
	case TypeInt64, TypeInt32:
		return fmt.Sprint(v.Int)
	case TypeTimestamp:
		return fmt.Sprintf("%dns", v.Int)
	case TypeBool:
		return fmt.Sprint(v.Int != 0)
	case TypeFloat64:
		return fmt.Sprint(v.Float)
	case TypeFloat32:
		return strconv.FormatFloat(v.Float, 'g', -1, 32)
	case TypeString:
		return fmt.Sprintf("%q", v.Str)
	case TypeBytes:
		return fmt.Sprintf("%x", v.Str)
	case TypeJSON, TypeMap:
		return v.Str
	case TypeInt32List, TypeInt64List, TypeTimestampList:
		return fmt.Sprint(v.Ints())
	case TypeFloatList, TypeFloat64List:
		return fmt.Sprint(v.Floats())
	case TypeBoolList:
		return fmt.Sprint(v.Bools())
	case TypeStringList:
		return fmt.Sprintf("%q", v.Strings())
	case TypeBytesList:
		return fmt.Sprintf("%x", v.Strings())
	}
	return v.Type.String()
}
