package server

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// twoValues holds two different values of every feature type.
var twoValues = map[storage.Type][2]storage.Value{
	storage.TypeInt64:         {storage.Int64(-5), storage.Int64(math.MaxInt64)},
	storage.TypeInt32:         {storage.Int32(-7), storage.Int32(math.MaxInt32)},
	storage.TypeTimestamp:     {storage.Timestamp(-1), storage.Timestamp(1e18)},
	storage.TypeFloat64:       {storage.Float64(0.5), storage.Float64(-1e300)},
	storage.TypeFloat32:       {storage.Float32(1.5), storage.Float32(-2)},
	storage.TypeString:        {storage.String("a"), storage.String("héllo")},
	storage.TypeBool:          {storage.Bool(true), storage.Bool(false)},
	storage.TypeBytes:         {storage.Bytes([]byte{0}), storage.Bytes([]byte{1, 2})},
	storage.TypeJSON:          {storage.JSON(`[1]`), storage.JSON(` "x"`)},
	storage.TypeMap:           {storage.Map(`{}`), storage.Map(`{"a": 1}`)},
	storage.TypeFloatList:     {storage.FloatList([]float32{1, 2}), storage.FloatList(nil)},
	storage.TypeInt32List:     {storage.Int32List([]int32{1, -1}), storage.Int32List([]int32{math.MaxInt32})},
	storage.TypeInt64List:     {storage.Int64List([]int64{math.MinInt64}), storage.Int64List(nil)},
	storage.TypeFloat64List:   {storage.Float64List([]float64{0.1}), storage.Float64List([]float64{1, 2, 3})},
	storage.TypeStringList:    {storage.StringList([]string{"a", ""}), storage.StringList([]string{"ç"})},
	storage.TypeBoolList:      {storage.BoolList([]bool{true}), storage.BoolList([]bool{false, false})},
	storage.TypeBytesList:     {storage.BytesList([][]byte{{1}, {}}), storage.BytesList([][]byte{{}})},
	storage.TypeTimestampList: {storage.TimestampList([]int64{0, 5}), storage.TimestampList([]int64{1e18})},
}

// columnOf lays values of type t out as the store's columns hold them.
func columnOf(t storage.Type, vals ...storage.Value) storage.Column {
	c := storage.Column{Type: t, Valid: make([]byte, (len(vals)+7)/8), Offsets: []int64{0}}
	for i, v := range vals {
		if !v.IsNull() {
			c.Valid[i>>3] |= 1 << (i & 7)
		}
		switch t {
		case storage.TypeInt64, storage.TypeInt32, storage.TypeTimestamp:
			c.Int64 = append(c.Int64, v.Int)
		case storage.TypeFloat64:
			c.Float64 = append(c.Float64, v.Float)
		case storage.TypeFloat32:
			c.Float32 = append(c.Float32, float32(v.Float))
		case storage.TypeBool:
			c.Bool = append(c.Bool, uint8(v.Int))
		case storage.TypeFloatList:
			c.Float32 = append(c.Float32, v.Float32s()...)
			c.Offsets = append(c.Offsets, int64(len(c.Float32)))
		default:
			c.Data = append(c.Data, v.Str...)
			c.Offsets = append(c.Offsets, int64(len(c.Data)))
		}
	}
	return c
}

func TestEveryTypeHasItsAPIType(t *testing.T) {
	n := 0
	for st := storage.TypeInt64; st.Valid(); st++ {
		pt := typeToProto[st]
		require.Equal(t, "VALUE_TYPE_"+strings.ToUpper(st.String()), pt.String())
		back, err := toType(pt, "type")
		require.NoError(t, err)
		require.Equal(t, st, back)
		n++
	}
	require.Equal(t, 18, n)
	require.Len(t, twoValues, n)
	_, err := toType(timefencev1.ValueType(19), "f")
	require.ErrorContains(t, err, "f: unknown or unspecified type")
}

// TestColumnArrayOfEveryType: the Arrow array of a column of every type,
// in its Arrow type, reads back (as a bulk write reads it) as the values
// of the column; scatter moves its rows; the table hash covers its values
// and does not depend on how its rows are split.
func TestColumnArrayOfEveryType(t *testing.T) {
	for st, vals := range twoValues {
		t.Run(st.String(), func(t *testing.T) {
			a, b := vals[0], vals[1]
			col := columnOf(st, a, storage.Value{}, b)
			arr := columnArray(&col, 3)
			require.True(t, arrow.TypeEqual(arrowType(st), arr.DataType()), "%s", arr.DataType())
			read := func(arr arrow.Array) []storage.Value {
				c, err := newColumn("f", arr, st)
				require.NoError(t, err)
				out := make([]storage.Value, arr.Len())
				for i := range out {
					out[i] = c.value(i)
				}
				return out
			}
			got := read(arr)
			require.True(t, a.Equal(got[0]), "%v != %v", a, got[0])
			require.True(t, got[1].IsNull())
			require.True(t, b.Equal(got[2]), "%v != %v", b, got[2])

			moved := scatter(&col, []int32{2, 1, 0})
			got = read(columnArray(&moved, 3))
			require.True(t, b.Equal(got[0]), "%v != %v", b, got[0])
			require.True(t, got[1].IsNull())
			require.True(t, a.Equal(got[2]), "%v != %v", a, got[2])

			whole, parts, other := newTableHasher(1), newTableHasher(1), newTableHasher(1)
			whole.add(0, arr)
			parts.add(0, array.NewSlice(arr, 0, 1))
			parts.add(0, array.NewSlice(arr, 1, 3))
			other.add(0, columnArray(&moved, 3))
			require.Equal(t, whole.sum(""), parts.sum(""))
			require.NotEqual(t, whole.sum(""), other.sum(""))
		})
	}
}

// TestListHashFormat pins the bytes a list column's digest covers: per row
// 0 for null, or 1, the item count and the items (8 bytes per int32).
func TestListHashFormat(t *testing.T) {
	col := columnOf(storage.TypeInt32List, storage.Int32List([]int32{-1, 2}), storage.Value{})
	h := newTableHasher(1)
	h.add(0, columnArray(&col, 2))
	want := newTableHasher(1)
	want.cols[0].Write([]byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0})
	require.Equal(t, want.sum(""), h.sum(""))
}

// TestValuesAsTheirColumnType: a wire value is read as the type of its
// column where it widens to it, or is an int64 for an int32 (refused by
// Check when out of range); other types are left as they are.
func TestValuesAsTheirColumnType(t *testing.T) {
	i32 := &timefencev1.Value{Kind: &timefencev1.Value_Int32Value{Int32Value: -3}}
	big := &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: 1 << 31}}
	floats := &timefencev1.Value{Kind: &timefencev1.Value_FloatListValue{FloatListValue: &timefencev1.FloatList{Values: []float32{0.5}}}}
	text := &timefencev1.Value{Kind: &timefencev1.Value_StringValue{StringValue: "{}"}}
	require.Equal(t, storage.Int64(-3), toValueAs(i32, storage.TypeInt64))
	require.Equal(t, storage.Int32(-3), toValueAs(i32, storage.TypeInt32))
	v := toValueAs(big, storage.TypeInt32)
	require.Equal(t, storage.TypeInt32, v.Type)
	require.ErrorContains(t, v.Check(), "2147483648 does not fit in an int32")
	require.Equal(t, storage.Float64List([]float64{0.5}), toValueAs(floats, storage.TypeFloat64List))
	require.Equal(t, storage.String("{}"), toValueAs(text, storage.TypeMap))
	require.Equal(t, storage.Int64(1<<31), toValueAs(big, storage.TypeTimestamp))
	require.True(t, toValueAs(&timefencev1.Value{}, storage.TypeInt64).IsNull())
}

// TestStatisticsOfEveryType: statistics count every type's values and
// nulls, with a range for numbers and times, lengths for lists and top
// values for text; two windows of different values compare.
func TestStatisticsOfEveryType(t *testing.T) {
	for st, vals := range twoValues {
		t.Run(st.String(), func(t *testing.T) {
			acc := func(v storage.Value) *featureAcc {
				rows := make([]storage.Value, 40)
				for i := range rows {
					if i%4 != 3 {
						rows[i] = v
					}
				}
				col := columnOf(st, rows...)
				a := newFeatureAcc(storage.Feature{Name: "f", Type: st})
				a.addColumn(&col, make([]bool, len(rows)))
				return a
			}
			base, cur := acc(vals[0]), acc(vals[1])
			res := base.result()
			require.Equal(t, int64(40), res.GetCount())
			require.Equal(t, int64(10), res.GetNullCount())
			require.Equal(t, int64(1), res.GetDistinctCount())
			switch {
			case base.isNumeric():
				x := vals[0].Float
				if st == storage.TypeInt64 || st == storage.TypeInt32 || st == storage.TypeTimestamp {
					x = float64(vals[0].Int)
				}
				require.Equal(t, x, res.GetMin())
				require.Equal(t, x, res.GetMax())
			case st.IsList():
				require.Equal(t, int64(vals[0].Len()), res.GetMinLength())
				require.Equal(t, int64(vals[0].Len()), res.GetMaxLength())
				require.Nil(t, res.Min)
			default:
				require.Nil(t, res.Min)
			}
			if base.isCategorical() {
				text := vals[0].Str
				if st == storage.TypeBool {
					text = "true"
				}
				require.Equal(t, []*timefencev1.ValueCount{{Value: text, Count: 30}}, res.GetTopValues())
			}
			anomalies := compareFeature(base, cur)
			if base.isCategorical() {
				require.NotEmpty(t, anomalies)
			}
		})
	}
}
