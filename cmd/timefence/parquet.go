package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

func openParquet(ctx context.Context, path string) (*table, error) {
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
	var rows int64
	counted := &hooks{RecordReader: endAtEOF{rr}, each: func(rec arrow.Record) { rows += rec.NumRows() }}
	return &table{RecordReader: counted, unit: "rows", total: pf.NumRows(),
		done: func() int64 { return rows }, close: func() { rr.Release(); pf.Close() }}, nil
}

// endAtEOF reports a reader's io.EOF at the end of its records as no
// error. pqarrow's reader returns io.EOF from Err once done, which the
// client's WriteTable and GetHistorical would take for a failure.
type endAtEOF struct{ array.RecordReader }

func (e endAtEOF) Err() error {
	if err := e.RecordReader.Err(); !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// parquetSink writes records to a Parquet file. It writes to a temporary
// file beside it and renames it into place on commit, so a failed read
// leaves no partial output.
type parquetSink struct {
	path string
	f    *os.File
	w    *pqarrow.FileWriter
	rows int64
}

func newParquetSink(path string) *parquetSink { return &parquetSink{path: path} }

func (s *parquetSink) write(rec arrow.Record) error {
	if s.w == nil {
		f, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".*.tmp")
		if err != nil {
			return fmt.Errorf("cannot create %s: %v", s.path, unwrapPath(err))
		}
		s.f = f
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
		w, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return fmt.Errorf("cannot write %s: %v", s.path, err)
		}
		s.w = w
	}
	if err := s.w.Write(rec); err != nil {
		return fmt.Errorf("cannot write %s: %v", s.path, err)
	}
	s.rows += rec.NumRows()
	return nil
}

// commit finishes the file and moves it into place.
func (s *parquetSink) commit() error {
	if s.w == nil {
		return fmt.Errorf("nothing to write to %s: the server sent no records", s.path)
	}
	if err := s.w.Close(); err != nil {
		s.abort()
		return fmt.Errorf("cannot write %s: %v", s.path, err)
	}
	if err := os.Chmod(s.f.Name(), 0o644); err != nil {
		s.abort()
		return fmt.Errorf("cannot write %s: %v", s.path, unwrapPath(err))
	}
	if err := os.Rename(s.f.Name(), s.path); err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("cannot write %s: %v", s.path, unwrapPath(err))
	}
	return nil
}

// abort removes the temporary file.
func (s *parquetSink) abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// isParquetName reports whether path has a Parquet file's extension.
func isParquetName(path string) bool {
	kind, err := tableKind(path)
	return err == nil && kind == "parquet"
}

// manifestPath is where the manifest of out is written: OUT.manifest.json
// for OUT.parquet.
func manifestPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".manifest.json"
}
