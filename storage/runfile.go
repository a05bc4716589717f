package storage

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// A run file is the run's buffers, each at a 64-byte aligned offset,
// followed by a JSON footer that locates them and a fixed trailer:
//
//	"TFRUN001" | buffers... | footer JSON | footer length u64 | footer CRC-32C u32 | "TFRUNEND"
//
// Every buffer has its own CRC-32C in the footer. Numbers are little-endian;
// the buffers are read in place from a memory map.
const (
	runMagic     = "TFRUN001"
	runEndMagic  = "TFRUNEND"
	runTrailer   = 8 + 4 + 8
	runAlign     = 64
	runExt       = ".run"
	maxRunRows   = math.MaxInt32 // rows are addressed by int32 (hit)
	maxRunFooter = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// runFooter describes a run file.
type runFooter struct {
	View     uint32          `json:"view"`
	Lo       uint64          `json:"lo"`
	Hi       uint64          `json:"hi"`
	Versions int             `json:"versions"`
	Keys     int             `json:"keys"`
	Columns  []footerColumn  `json:"columns"`
	Sections []footerSection `json:"sections"`
}

type footerColumn struct {
	ID   uint32 `json:"id"`
	Type Type   `json:"type"`
}

type footerSection struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	CRC    uint32 `json:"crc"`
}

// runFile is an open, memory-mapped run file.
type runFile struct {
	path string
	data []byte
	size int64
}

func (f *runFile) close() {
	if f.data != nil {
		syscall.Munmap(f.data)
		f.data = nil
	}
}

// section is one buffer of a run: get returns it for writing, set points the
// run at it after reading.
type section struct {
	name string
	get  func() []byte
	set  func([]byte) error
}

func bytesOf[T any](s []T) []byte {
	var z T
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(z)))
}

func sliceOf[T any](b []byte, name string) ([]T, error) {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) == 0 {
		return nil, nil
	}
	if len(b)%size != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%unsafe.Alignof(z) != 0 {
		return nil, fmt.Errorf("%w: run section %s: misaligned or odd length", ErrCorrupt, name)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size), nil
}

func sec[T any](name string, p *[]T) section {
	return section{name: name,
		get: func() []byte { return bytesOf(*p) },
		set: func(b []byte) (err error) { *p, err = sliceOf[T](b, name); return err }}
}

// sections lists r's buffers in file order.
func (r *run) sections() []section {
	s := []section{
		sec("key_off", &r.keyOff), sec("key_data", &r.keyData), sec("key_head", &r.keyHead), sec("start", &r.start),
		sec("event", &r.event), sec("avail", &r.avail), sec("seq", &r.seq), sec("flags", &r.flags),
	}
	for i := range r.cols {
		c := &r.cols[i]
		p := "c" + strconv.FormatUint(uint64(c.ID), 10) + "."
		s = append(s, sec(p+"valid", &c.Valid))
		switch c.Type.layout() {
		case layoutInt64:
			s = append(s, sec(p+"i64", &c.Int64))
		case layoutFloat64:
			s = append(s, sec(p+"f64", &c.Float64))
		case layoutFloat32:
			s = append(s, sec(p+"f32", &c.Float32))
		case layoutBool:
			s = append(s, sec(p+"u8", &c.Bool))
		case layoutBytes:
			s = append(s, sec(p+"off", &c.Offsets), sec(p+"data", &c.Data))
		case layoutFloatList:
			s = append(s, sec(p+"off", &c.Offsets), sec(p+"f32", &c.Float32))
		}
	}
	return s
}

func runFileName(lo, hi uint64) string { return fmt.Sprintf("%016x-%016x%s", lo, hi, runExt) }

// parseRunFileName returns the seq range a run file's name claims.
func parseRunFileName(name string) (lo, hi uint64, ok bool) {
	base, found := strings.CutSuffix(name, runExt)
	a, b, cut := strings.Cut(base, "-")
	if !found || !cut {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	return lo, hi, err1 == nil && err2 == nil && lo < hi
}

// writeRunFile writes r durably into dir: a temporary file is written and
// fsynced, renamed into place, and dir is fsynced. It returns the path.
func writeRunFile(dir string, viewID uint32, r *run) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, runFileName(r.lo, r.hi))
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer func() {
		if f != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	foot := runFooter{View: viewID, Lo: r.lo, Hi: r.hi, Versions: r.versions(), Keys: r.keys()}
	for _, c := range r.cols {
		foot.Columns = append(foot.Columns, footerColumn{ID: c.ID, Type: c.Type})
	}
	off := int64(len(runMagic))
	w.WriteString(runMagic)
	var pad [runAlign]byte
	for _, s := range r.sections() {
		if gap := (runAlign - off%runAlign) % runAlign; gap > 0 {
			w.Write(pad[:gap])
			off += gap
		}
		b := s.get()
		foot.Sections = append(foot.Sections, footerSection{Name: s.name, Offset: off, Length: int64(len(b)), CRC: crc32.Checksum(b, crcTable)})
		w.Write(b)
		off += int64(len(b))
	}
	fb, err := json.Marshal(&foot)
	if err != nil {
		return "", err
	}
	w.Write(fb)
	var t [runTrailer]byte
	binary.LittleEndian.PutUint64(t[0:], uint64(len(fb)))
	binary.LittleEndian.PutUint32(t[8:], crc32.Checksum(fb, crcTable))
	copy(t[12:], runEndMagic)
	w.Write(t[:])
	if err := w.Flush(); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	f = nil
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openRunFile maps a run file and verifies it: trailer, footer and every
// buffer's checksum, and the run's shape. A damaged file fails with an error
// wrapping ErrCorrupt.
func openRunFile(path string, viewID uint32) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if size < int64(len(runMagic)+runTrailer) || size > math.MaxInt {
		return nil, fmt.Errorf("%w: run file %s: %d bytes is too short", ErrCorrupt, path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("storage: map run file %s: %w", path, err)
	}
	rf := &runFile{path: path, data: data, size: size}
	r, err := decodeRunFile(data, viewID)
	if err != nil {
		rf.close()
		return nil, fmt.Errorf("run file %s: %w", path, err)
	}
	r.file = rf
	// Verifying read every page; let them go, so that only what reads touch
	// stays resident (the page cache keeps them either way).
	syscall.Madvise(data, syscall.MADV_DONTNEED)
	return r, nil
}

// decodeRunFile points a run at the buffers of a run file's bytes after
// verifying the trailer, the footer, every buffer's checksum and the run's
// shape. A damaged file fails with an error wrapping ErrCorrupt.
func decodeRunFile(data []byte, viewID uint32) (*run, error) {
	if len(data) < len(runMagic)+runTrailer {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(data))
	}
	t := data[len(data)-runTrailer:]
	if string(data[:len(runMagic)]) != runMagic || string(t[12:]) != runEndMagic {
		return nil, fmt.Errorf("%w: bad magic (truncated or not a run file)", ErrCorrupt)
	}
	flen := binary.LittleEndian.Uint64(t)
	if flen > maxRunFooter || flen > uint64(len(data)-runTrailer-len(runMagic)) {
		return nil, fmt.Errorf("%w: footer length %d", ErrCorrupt, flen)
	}
	fb := data[len(data)-runTrailer-int(flen) : len(data)-runTrailer]
	if crc32.Checksum(fb, crcTable) != binary.LittleEndian.Uint32(t[8:]) {
		return nil, fmt.Errorf("%w: footer checksum mismatch", ErrCorrupt)
	}
	var foot runFooter
	if err := json.Unmarshal(fb, &foot); err != nil {
		return nil, fmt.Errorf("%w: footer: %v", ErrCorrupt, err)
	}
	if foot.View != viewID {
		return nil, fmt.Errorf("%w: holds view %d, not %d", ErrCorrupt, foot.View, viewID)
	}
	r := &run{lo: foot.Lo, hi: foot.Hi}
	for _, c := range foot.Columns {
		if !c.Type.Valid() {
			return nil, fmt.Errorf("%w: column %d has type %d", ErrCorrupt, c.ID, c.Type)
		}
		r.cols = append(r.cols, Column{ID: c.ID, Type: c.Type})
	}
	secs := r.sections()
	if len(secs) != len(foot.Sections) {
		return nil, fmt.Errorf("%w: %d sections, want %d", ErrCorrupt, len(foot.Sections), len(secs))
	}
	end := int64(len(data) - runTrailer - int(flen))
	for i, s := range secs {
		fs := foot.Sections[i]
		if fs.Name != s.name || fs.Offset < int64(len(runMagic)) || fs.Length < 0 || fs.Offset > end-fs.Length {
			return nil, fmt.Errorf("%w: section %d (%s) out of place", ErrCorrupt, i, fs.Name)
		}
		b := data[fs.Offset : fs.Offset+fs.Length]
		if crc32.Checksum(b, crcTable) != fs.CRC {
			return nil, fmt.Errorf("%w: section %s: checksum mismatch", ErrCorrupt, fs.Name)
		}
		if err := s.set(b); err != nil {
			return nil, err
		}
	}
	if r.versions() != foot.Versions || r.keys() != foot.Keys {
		return nil, fmt.Errorf("%w: %d versions and %d keys, footer says %d and %d", ErrCorrupt, r.versions(), r.keys(), foot.Versions, foot.Keys)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	r.setHead8()
	return r, nil
}

// check verifies that r's buffers fit together, so that no read of a
// damaged run can index out of range.
func (r *run) check() error {
	n, k := r.versions(), r.keys()
	bad := func(what string) error { return fmt.Errorf("%w: run (%d, %d]: %s", ErrCorrupt, r.lo, r.hi, what) }
	if n > maxRunRows {
		return bad("too many versions")
	}
	if len(r.avail) != n || len(r.seq) != n || len(r.flags) != n {
		return bad("version columns differ in length")
	}
	if len(r.start) != k+1 || len(r.keyOff) != k+1 || (k > 0 && r.start[0] != 0) || r.start[k] != int64(n) {
		return bad("key index does not match the versions")
	}
	if !ascending(r.start) || !ascending(r.keyOff) || r.keyOff[0] != 0 || r.keyOff[k] != int64(len(r.keyData)) {
		return bad("key offsets")
	}
	for _, c := range r.cols {
		if len(c.Valid) != (n+7)/8 {
			return bad(fmt.Sprintf("column %d validity", c.ID))
		}
		var l int
		switch c.Type.layout() {
		case layoutInt64:
			l = len(c.Int64)
		case layoutFloat64:
			l = len(c.Float64)
		case layoutFloat32:
			l = len(c.Float32)
		case layoutBool:
			l = len(c.Bool)
		default:
			l = len(c.Offsets) - 1
			items := len(c.Data)
			if c.Type == TypeFloatList {
				items = len(c.Float32)
			}
			if l >= 0 && (c.Offsets[0] != 0 || c.Offsets[l] != int64(items) || !ascending(c.Offsets)) {
				return bad(fmt.Sprintf("column %d offsets", c.ID))
			}
		}
		if l != n {
			return bad(fmt.Sprintf("column %d has %d values for %d versions", c.ID, l, n))
		}
	}
	return nil
}

func ascending(s []int64) bool {
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			return false
		}
	}
	return true
}
