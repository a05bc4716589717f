// Package wire holds the field numbers of the messages that the client and
// the server encode and decode by hand (client/writewire.go,
// server/writewire.go, server/onlinewire.go) rather than through protobuf's
// generic code. wire_test.go checks each against the generated descriptors.
package wire

import "google.golang.org/protobuf/encoding/protowire"

// WriteBatchRequest (write_service.proto).
const (
	BatchID      protowire.Number = 1
	FeatureView  protowire.Number = 2
	FeatureNames protowire.Number = 3
	Rows         protowire.Number = 4
	Backfill     protowire.Number = 5
)

// WriteRow (write_service.proto).
const (
	RowJoinKeys    protowire.Number = 1
	RowEventTime   protowire.Number = 2
	RowValues      protowire.Number = 3
	RowDelete      protowire.Number = 4
	RowAvailableAt protowire.Number = 5
)

// google.protobuf.Timestamp.
const (
	Seconds protowire.Number = 1
	Nanos   protowire.Number = 2
)

// Value's scalar kinds (types.proto).
const (
	Int64Value     protowire.Number = 1
	DoubleValue    protowire.Number = 2
	FloatValue     protowire.Number = 3
	StringValue    protowire.Number = 4
	BoolValue      protowire.Number = 5
	BytesValue     protowire.Number = 6
	Int32Value     protowire.Number = 8
	TimestampValue protowire.Number = 9
	JSONValue      protowire.Number = 10
	MapValue       protowire.Number = 11
)
