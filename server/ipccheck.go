package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow/go/v15/arrow"
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
