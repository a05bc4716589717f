package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/bitutil"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// boundedAllocator refuses, by panicking, to allocate more than the budget
// set for the message being read.
type boundedAllocator struct{ budget atomic.Int64 }

var errAllocation = errors.New("a record batch asks for more memory than its body holds")

func (a *boundedAllocator) Allocate(size int) []byte {
	if a.budget.Add(-int64(size)) < 0 {
		panic(errAllocation)
	}
	return memory.DefaultAllocator.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	if a.budget.Add(-int64(size-len(b))) < 0 {
		panic(errAllocation)
	}
	return memory.DefaultAllocator.Reallocate(size, b)
}

func (a *boundedAllocator) Free(b []byte) { memory.DefaultAllocator.Free(b) }

// recordStream is an incoming Arrow stream.
type recordStream interface {
	Schema() *arrow.Schema
	Next() bool
	Record() arrow.Record
	Err() error
}

// nextRecord returns the stream's next record, nil at its end, or an
// INVALID_ARGUMENT error when the stream is corrupt.
func nextRecord(rdr recordStream) (rec arrow.Record, err error) {
	err = safely(func() error {
		if rdr.Next() {
			rec = rdr.Record()
			for i, c := range rec.Columns() {
				if err := checkArray(c.Data(), 0); err != nil {
					name := rec.Schema().Field(i).Name
					rec = nil
					return invalid(fmt.Sprintf("arrow stream: column %q: corrupt array: %v", name, err))
				}
			}
		}
		return nil
	})
	if err == nil && rec == nil {
		if rerr := rdr.Err(); rerr != nil {
			err = invalid(fmt.Sprintf("arrow stream: %v", rerr))
		}
	}
	return rec, err
}

// safely runs fn, turning a panic of the Arrow library on corrupt input
// into an INVALID_ARGUMENT error.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = invalid(fmt.Sprintf("arrow stream: corrupt record batch (%v)", r))
		}
	}()
	return fn()
}

// Arrow's IPC reader trusts the lengths inside a message's flatbuffer
// header: a corrupt header can ask it for a slice of any size and exhaust
// memory. checkedStream verifies every header's vectors against the bytes
// that hold them before the Arrow reader sees the message.
//
// Arrow also reads buffer descriptors past the end of their vector when the
// schema asks for more buffers than a record declares, so the bytes it
// allocates per message are capped too (boundedAllocator), and records are
// read under recovery (nextRecord, safely).
type checkedStream struct {
	flight.DataStreamReader
	alloc *boundedAllocator
}

func (c checkedStream) Recv() (*flight.FlightData, error) {
	fd, err := c.DataStreamReader.Recv()
	if err != nil || len(fd.GetDataHeader()) == 0 {
		return fd, err
	}
	c.alloc.budget.Store(2*int64(len(fd.GetDataBody())) + 1<<20)
	if err := checkIPCHeader(fd.GetDataHeader(), len(fd.GetDataBody())); err != nil {
		return nil, invalid(fmt.Sprintf("arrow stream: corrupt message header: %v", err))
	}
	return fd, nil
}

// Limits on what a header may declare.
const (
	maxIPCFields = 10_000
	maxIPCDepth  = 32
)

var errOutOfBounds = errors.New("offset outside the header")

// fbuf reads a flatbuffer with bounds checks on every access.
type fbuf []byte

func (b fbuf) u32(pos int) (int, error) {
	if pos < 0 || pos+4 > len(b) {
		return 0, errOutOfBounds
	}
	return int(binary.LittleEndian.Uint32(b[pos:])), nil
}

func (b fbuf) u16(pos int) (int, error) {
	if pos < 0 || pos+2 > len(b) {
		return 0, errOutOfBounds
	}
	return int(binary.LittleEndian.Uint16(b[pos:])), nil
}

// field returns the position of field id of the table at tab, or 0 when absent.
func (b fbuf) field(tab, id int) (int, error) {
	soff, err := b.u32(tab)
	if err != nil {
		return 0, err
	}
	vt := tab - int(int32(uint32(soff)))
	vtlen, err := b.u16(vt)
	if err != nil {
		return 0, err
	}
	slot := 4 + 2*id
	if slot+2 > vtlen {
		return 0, nil
	}
	off, err := b.u16(vt + slot)
	if err != nil || off == 0 {
		return 0, err
	}
	return tab + off, nil
}

// ref follows the offset stored in field id of tab; 0 when absent.
func (b fbuf) ref(tab, id int) (int, error) {
	pos, err := b.field(tab, id)
	if err != nil || pos == 0 {
		return 0, err
	}
	off, err := b.u32(pos)
	if err != nil {
		return 0, err
	}
	return pos + off, nil
}

// vector returns the element count and first element of vector field id,
// checking that count elements of elem bytes fit in the buffer.
func (b fbuf) vector(tab, id, elem int) (n, start int, err error) {
	pos, err := b.ref(tab, id)
	if err != nil || pos == 0 {
		return 0, 0, err
	}
	n, err = b.u32(pos)
	if err != nil {
		return 0, 0, err
	}
	if n > (len(b)-pos-4)/elem {
		return 0, 0, fmt.Errorf("a vector declares %d elements in a %d-byte header", n, len(b))
	}
	return n, pos + 4, nil
}

// checkIPCHeader verifies an Arrow IPC Message flatbuffer whose body has
// bodyLen bytes.
func checkIPCHeader(hdr []byte, bodyLen int) error {
	b := fbuf(hdr)
	msg, err := b.u32(0)
	if err != nil {
		return err
	}
	typePos, err := b.field(msg, 1)
	if err != nil {
		return err
	}
	if typePos != 0 && typePos >= len(b) {
		return errOutOfBounds
	}
	header, err := b.ref(msg, 2)
	if err != nil {
		return err
	}
	if err := b.checkKeyValues(msg, 4); err != nil {
		return err
	}
	if typePos == 0 || header == 0 {
		return nil
	}
	switch b[typePos] {
	case 1: // Schema
		fields := 0
		if err := b.checkFields(header, 1, 0, &fields); err != nil {
			return err
		}
		if err := b.checkKeyValues(header, 2); err != nil {
			return err
		}
		_, _, err = b.vector(header, 3, 8)
		return err
	case 2: // DictionaryBatch
		data, err := b.ref(header, 1)
		if err != nil || data == 0 {
			return err
		}
		return b.checkRecordBatch(data, bodyLen)
	case 3: // RecordBatch
		return b.checkRecordBatch(header, bodyLen)
	}
	return fmt.Errorf("unsupported message type %d", b[typePos])
}

// checkRecordBatch verifies a RecordBatch: its vectors fit the header and
// every buffer lies inside the body. Compressed bodies are refused: their
// declared uncompressed sizes cannot be checked before allocation.
func (b fbuf) checkRecordBatch(rb, bodyLen int) error {
	for _, f := range []struct{ id, elem int }{{1, 16}, {4, 8}} { // nodes, variadic buffer counts
		if _, _, err := b.vector(rb, f.id, f.elem); err != nil {
			return err
		}
	}
	n, start, err := b.vector(rb, 2, 16)
	if err != nil {
		return err
	}
	for i := range n {
		off := int64(binary.LittleEndian.Uint64(b[start+16*i:]))
		length := int64(binary.LittleEndian.Uint64(b[start+16*i+8:]))
		if off < 0 || length < 0 || off > int64(bodyLen) || length > int64(bodyLen)-off {
			return fmt.Errorf("buffer %d [%d, +%d) lies outside the %d-byte body", i, off, length, bodyLen)
		}
	}
	if c, err := b.field(rb, 3); err != nil || c != 0 {
		if err != nil {
			return err
		}
		return errors.New("compressed record batches are not accepted; send them uncompressed")
	}
	return nil
}

// checkFields verifies the vector of Field tables in field id of tab and,
// recursively, their children.
func (b fbuf) checkFields(tab, id, depth int, total *int) error {
	if depth > maxIPCDepth {
		return fmt.Errorf("fields nested deeper than %d", maxIPCDepth)
	}
	n, start, err := b.vector(tab, id, 4)
	if err != nil {
		return err
	}
	if *total += n; *total > maxIPCFields {
		return fmt.Errorf("more than %d fields", maxIPCFields)
	}
	for i := range n {
		off, err := b.u32(start + 4*i)
		if err != nil {
			return err
		}
		field := start + 4*i + off
		if _, _, err := b.vector(field, 0, 1); err != nil { // name
			return err
		}
		if err := b.checkFields(field, 5, depth+1, total); err != nil { // children
			return err
		}
		if err := b.checkKeyValues(field, 6); err != nil {
			return err
		}
	}
	return nil
}

// checkKeyValues verifies a vector of KeyValue tables (custom metadata).
func (b fbuf) checkKeyValues(tab, id int) error {
	n, start, err := b.vector(tab, id, 4)
	if err != nil {
		return err
	}
	for i := range n {
		off, err := b.u32(start + 4*i)
		if err != nil {
			return err
		}
		kv := start + 4*i + off
		for _, s := range []int{0, 1} {
			if _, _, err := b.vector(kv, s, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkArray verifies that an array's buffers hold what its length, offset
// and null count declare, and that its offsets lie inside its values. The
// Arrow IPC reader trusts them, and an array that lies about them fails
// later, wherever it is read or written, e.g. when results are sent.
func checkArray(d arrow.ArrayData, depth int) error {
	if depth > maxIPCDepth {
		return fmt.Errorf("nested deeper than %d", maxIPCDepth)
	}
	n, off := d.Len(), d.Offset()
	if n < 0 || off < 0 {
		return fmt.Errorf("negative length %d or offset %d", n, off)
	}
	end := off + n
	bufs := d.Buffers()
	buf := func(i int) []byte {
		if i < len(bufs) && bufs[i] != nil {
			return bufs[i].Bytes()
		}
		return nil
	}
	id := d.DataType().ID()
	switch id {
	case arrow.NULL, arrow.SPARSE_UNION, arrow.DENSE_UNION, arrow.RUN_END_ENCODED:
		// No validity bitmap.
	default:
		if d.NullN() < 0 || d.NullN() > n {
			return fmt.Errorf("null count %d for %d values", d.NullN(), n)
		}
		if d.NullN() > 0 {
			valid := buf(0)
			if len(valid) < (end+7)/8 {
				return fmt.Errorf("null count %d needs a validity bitmap of %d bytes; it has %d", d.NullN(), (end+7)/8, len(valid))
			}
			if nulls := n - bitutil.CountSetBits(valid, off, n); nulls != d.NullN() {
				return fmt.Errorf("null count %d, but the validity bitmap has %d nulls", d.NullN(), nulls)
			}
		}
	}
	children := d.Children()
	switch t := d.DataType().(type) {
	case *arrow.BooleanType:
		if len(buf(1)) < (end+7)/8 {
			return fmt.Errorf("%d booleans in %d bytes", n, len(buf(1)))
		}
	case *arrow.DictionaryType:
		if len(buf(1)) < end*t.BitWidth()/8 {
			return fmt.Errorf("%d dictionary indices in %d bytes", n, len(buf(1)))
		}
		if dict := d.Dictionary(); dict != nil {
			return checkArray(dict, depth+1)
		}
	case arrow.FixedWidthDataType:
		if len(buf(1)) < end*(t.BitWidth()/8) {
			return fmt.Errorf("%d values of %d bytes in %d bytes", n, t.BitWidth()/8, len(buf(1)))
		}
	case *arrow.StringType, *arrow.BinaryType:
		return checkOffsets(arrow.Int32Traits.CastFromBytes(buf(1)), off, n, len(buf(2)))
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		return checkOffsets(arrow.Int64Traits.CastFromBytes(buf(1)), off, n, len(buf(2)))
	case *arrow.ListType, *arrow.MapType, *arrow.LargeListType:
		if len(children) != 1 {
			return fmt.Errorf("a list with %d child arrays", len(children))
		}
		if err := checkArray(children[0], depth+1); err != nil {
			return err
		}
		if id == arrow.LARGE_LIST {
			return checkOffsets(arrow.Int64Traits.CastFromBytes(buf(1)), off, n, children[0].Len())
		}
		return checkOffsets(arrow.Int32Traits.CastFromBytes(buf(1)), off, n, children[0].Len())
	case *arrow.FixedSizeListType:
		if len(children) != 1 || children[0].Len() < end*int(t.Len()) {
			return fmt.Errorf("a fixed-size list of %d × %d values without them", n, t.Len())
		}
		return checkArray(children[0], depth+1)
	case *arrow.StructType:
		for _, c := range children {
			if c.Len() < end {
				return fmt.Errorf("a struct of %d rows with a field of %d", end, c.Len())
			}
			if err := checkArray(c, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkOffsets verifies the offsets of rows [off, off+n) of a variable-width
// array: they exist, never decrease and lie within the size values.
func checkOffsets[T int32 | int64](offsets []T, off, n, size int) error {
	if n == 0 {
		return nil
	}
	if len(offsets) < off+n+1 {
		return fmt.Errorf("%d offsets for %d values", len(offsets), off+n)
	}
	o := offsets[off : off+n+1]
	if o[0] < 0 || int64(o[n]) > int64(size) {
		return fmt.Errorf("offsets [%d, %d] outside the %d values", o[0], o[n], size)
	}
	for i := range n {
		if o[i] > o[i+1] {
			return fmt.Errorf("offset %d decreases (%d after %d)", off+i+1, o[i+1], o[i])
		}
	}
	return nil
}
