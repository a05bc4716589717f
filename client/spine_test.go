package client_test

import (
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

func TestNewSpine(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	r, err := client.NewSpine([]string{"store_id", "region"}, [][]any{{7, "eu"}, {int64(8), "us"}}, []time.Time{at, at.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "store_id: type=int64, region: type=utf8, event_timestamp: type=timestamp[ns, tz=UTC]", fieldList(r))
	require.True(t, r.Next())
	rec := r.Record()
	require.Equal(t, []int64{7, 8}, rec.Column(0).(*array.Int64).Int64Values())
	require.Equal(t, "us", rec.Column(1).(*array.String).Value(1))
	require.Equal(t, at.UnixNano(), int64(rec.Column(2).(*array.Timestamp).Value(0)))

	_, err = client.NewSpine([]string{"user_id"}, [][]any{{1}, {"x"}}, []time.Time{at, at})
	require.EqualError(t, err, "timefence: spine row 1: key user_id: expected an integer, got string")
	_, err = client.NewSpine([]string{"region"}, [][]any{{"eu"}, {2}}, []time.Time{at, at})
	require.EqualError(t, err, "timefence: spine row 1: key region: expected a string, got int")
	_, err = client.NewSpine([]string{"user_id"}, [][]any{{1}}, nil)
	require.EqualError(t, err, "timefence: spine has 1 key rows but 0 times")
	_, err = client.NewSpine([]string{"user_id"}, [][]any{{1, 2}}, []time.Time{at})
	require.EqualError(t, err, "timefence: spine row 0 has 2 keys, expected 1 ([user_id])")
}

func fieldList(r array.RecordReader) string {
	s := ""
	for i, f := range r.Schema().Fields() {
		if i > 0 {
			s += ", "
		}
		s += f.Name + ": type=" + f.Type.String()
	}
	return s
}
