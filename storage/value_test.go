package storage

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTypeNames(t *testing.T) {
	for ty := TypeInt64; ty < typeEnd; ty++ {
		got, ok := ParseType(ty.String())
		require.True(t, ok, ty.String())
		require.Equal(t, ty, got)
		if ty.IsList() {
			require.Equal(t, ty, ListOf(ty.Elem()), ty.String())
		}
	}
	_, ok := ParseType("null")
	require.False(t, ok)
	require.Equal(t, TypeNull, ListOf(TypeJSON), "there are no lists of JSON")
}

func TestWidensTo(t *testing.T) {
	widens := map[[2]Type]bool{
		{TypeInt32, TypeInt64}: true, {TypeFloat32, TypeFloat64}: true,
		{TypeInt32List, TypeInt64List}: true, {TypeFloatList, TypeFloat64List}: true,
	}
	for a := TypeInt64; a < typeEnd; a++ {
		for b := TypeInt64; b < typeEnd; b++ {
			require.Equal(t, a == b || widens[[2]Type{a, b}], a.WidensTo(b), "%s to %s", a, b)
		}
	}
}

func TestListsRoundTrip(t *testing.T) {
	require.Equal(t, []int64{math.MinInt64, 0, 9}, Int64List([]int64{math.MinInt64, 0, 9}).Ints())
	require.Equal(t, []int64{math.MinInt32, 5}, Int32List([]int32{math.MinInt32, 5}).Ints())
	require.Equal(t, []float64{1.5, -0.25}, Float64List([]float64{1.5, -0.25}).Floats())
	require.Equal(t, []float32{1.5, -0.25}, FloatList([]float32{1.5, -0.25}).Float32s())
	require.Equal(t, []bool{true, false}, BoolList([]bool{true, false}).Bools())
	long := string(make([]byte, 300))
	sl := StringList([]string{"", "é", long})
	require.Equal(t, []string{"", "é", long}, sl.Strings())
	require.Equal(t, 3, sl.Len())
	require.Equal(t, []string{"\x00\x01"}, BytesList([][]byte{{0, 1}}).Strings())
	require.Equal(t, 0, Int64List(nil).Len())
	require.False(t, Int64List(nil).IsNull(), "an empty list is a value")
}

func TestCheck(t *testing.T) {
	bad := []struct {
		v    Value
		want string
	}{
		{Value{Type: TypeInt32, Int: 1 << 31}, "2147483648 does not fit in an int32"},
		{Float64(math.NaN()), "NaN is not a value"},
		{JSON(`{"a":`), "not valid JSON"},
		{JSON(``), "not valid JSON"},
		{Map(`[1]`), "a map is a JSON object"},
		{Map(`"x"`), "a map is a JSON object"},
		{Float64List([]float64{1, math.NaN()}), "item 1 is NaN"},
		{FloatList([]float32{float32(math.NaN())}), "item 0 is NaN"},
		{Value{Type: TypeInt32List, Str: Int64List([]int64{1, 1 << 40}).Str}, "item 1: 1099511627776 does not fit in an int32"},
		{Value{Type: TypeInt64List, Str: "1234567"}, "not a whole number of 8-byte items"},
		{Value{Type: TypeStringList, Str: "\x05ab"}, "item 0 of a string_list is cut short"},
		{StringList([]string{"ok", "\xff"}), "item 1 is not valid UTF-8"},
	}
	for _, c := range bad {
		require.ErrorContains(t, c.v.Check(), c.want, c.v.Type.String())
	}
	for _, v := range []Value{Int32(math.MaxInt32), JSON(`null`), JSON(` [1, {"a": "b"}] `), Map(` {"a": [1]}`), BytesList([][]byte{{0xff}}), Timestamp(-1)} {
		require.NoError(t, v.Check(), v.String())
	}
}

func TestAs(t *testing.T) {
	require.Equal(t, Int64(-3), Int32(-3).As(TypeInt64))
	require.Equal(t, Int32(-3), Int64(-3).As(TypeInt32))
	require.Equal(t, Float64(0.5), Float32(0.5).As(TypeFloat64))
	require.Equal(t, Int64List([]int64{-1, 2}), Int32List([]int32{-1, 2}).As(TypeInt64List))
	require.Equal(t, Float64List([]float64{0.5, -2}), FloatList([]float32{0.5, -2}).As(TypeFloat64List))
	require.Equal(t, FloatList([]float32{0.5, -2}), Float64List([]float64{0.5, -2}).As(TypeFloatList))
	require.True(t, Value{}.As(TypeInt64).IsNull())
}
