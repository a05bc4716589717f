package tableio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

func openParquet(ctx context.Context, path string) (*Table, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable Parquet file: %v", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	t := &Table{Unit: "rows", Total: pf.NumRows(), r: endAtEOF{rr}, close: func() { rr.Release(); pf.Close() }}
	t.done = t.Rows
	return t, nil
}

// endAtEOF reports a reader's io.EOF at the end of its records as no
// error: pqarrow's reader returns io.EOF from Err once done.
type endAtEOF struct{ array.RecordReader }

func (e endAtEOF) Err() error {
	if err := e.RecordReader.Err(); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ParquetWriter writes records to a Parquet file, compressed with Snappy.
// It writes to a temporary file beside it, which Commit renames into
// place, so a failed write leaves no partial output.
type ParquetWriter struct {
	path string
	f    *os.File
	fw   *pqarrow.FileWriter
}

// NewParquetWriter returns a writer of the Parquet file path. It creates
// the file when the first record is written.
func NewParquetWriter(path string) *ParquetWriter { return &ParquetWriter{path: path} }

// Write appends a record. Every record must have the schema of the first.
func (w *ParquetWriter) Write(rec arrow.Record) error {
	if w.fw == nil {
		f, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(w.path)+".*.tmp")
		if err != nil {
			return fmt.Errorf("cannot create %s: %v", w.path, cause(err))
		}
		w.f = f
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
		fw, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return fmt.Errorf("cannot write %s: %v", w.path, err)
		}
		w.fw = fw
	}
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("cannot write %s: %v", w.path, err)
	}
	return nil
}

// Commit finishes the file and moves it into place. It fails when no
// record was written.
func (w *ParquetWriter) Commit() error {
	if w.fw == nil {
		return fmt.Errorf("nothing to write to %s: no records", w.path)
	}
	if err := w.fw.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("cannot write %s: %v", w.path, err)
	}
	if err := os.Chmod(w.f.Name(), 0o644); err != nil {
		w.Abort()
		return fmt.Errorf("cannot write %s: %v", w.path, cause(err))
	}
	if err := os.Rename(w.f.Name(), w.path); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("cannot write %s: %v", w.path, cause(err))
	}
	return nil
}

// Abort removes the temporary file.
func (w *ParquetWriter) Abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
	}
}

// cause is the reason an operation of package os failed, without the name
// of the temporary file its error carries.
func cause(err error) error {
	if c := errors.Unwrap(err); c != nil {
		return c
	}
	return err
}
