package storage

import (
	"fmt"
	"math"
)

// Type is the type of a join key or feature value.
type Type uint8

// Types. Their numbers are stored on disk; never renumber them.
const (
	TypeNull Type = iota
	TypeInt64
	TypeFloat64
	TypeFloat32
	TypeString
	TypeBool
	TypeBytes
	TypeFloatList
)

var typeNames = [...]string{"null", "int64", "double", "float", "string", "bool", "bytes", "float_list"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t names a feature type (not null).
func (t Type) Valid() bool { return t > TypeNull && t <= TypeFloatList }

// Value is one typed value. The zero Value is null.
// Int holds int64 and bool (0/1), Float holds double and float,
// Str holds string and bytes, List holds float lists.
type Value struct {
	Type  Type
	Int   int64
	Float float64
	Str   string
	List  []float32
}

// Constructors for values.
func Int64(v int64) Value         { return Value{Type: TypeInt64, Int: v} }
func Float64(v float64) Value     { return Value{Type: TypeFloat64, Float: v} }
func Float32(v float32) Value     { return Value{Type: TypeFloat32, Float: float64(v)} }
func String(v string) Value       { return Value{Type: TypeString, Str: v} }
func Bytes(v []byte) Value        { return Value{Type: TypeBytes, Str: string(v)} }
func FloatList(v []float32) Value { return Value{Type: TypeFloatList, List: v} }
func Bool(v bool) Value {
	if v {
		return Value{Type: TypeBool, Int: 1}
	}
	return Value{Type: TypeBool}
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Type == TypeNull }

// Equal reports whether two values are identical (NaN-aware for floats).
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	switch v.Type {
	case TypeFloat64, TypeFloat32:
		return v.Float == o.Float || (math.IsNaN(v.Float) && math.IsNaN(o.Float))
	case TypeFloatList:
		if len(v.List) != len(o.List) {
			return false
		}
		for i := range v.List {
			if math.Float32bits(v.List[i]) != math.Float32bits(o.List[i]) {
				return false
			}
		}
		return true
	}
	return v.Int == o.Int && v.Str == o.Str
}

func (v Value) String() string {
	switch v.Type {
	case TypeNull:
		return "null"
	case TypeInt64:
		return fmt.Sprint(v.Int)
	case TypeBool:
		return fmt.Sprint(v.Int != 0)
	case TypeFloat64, TypeFloat32:
		return fmt.Sprint(v.Float)
	case TypeString:
		return fmt.Sprintf("%q", v.Str)
	case TypeBytes:
		return fmt.Sprintf("%x", v.Str)
	case TypeFloatList:
		return fmt.Sprint(v.List)
	}
	return v.Type.String()
}
