// Package tableio reads CSV and Parquet files as Arrow records, and writes
// Arrow records to Parquet files.
//
// A CSV file needs a header line naming its columns; each column's type
// comes from a function of its name, or is inferred from the data. An
// empty cell is null, bytes are base64, times are RFC 3339 or
// "2006-01-02 15:04:05" (UTC without a zone), json and map cells are JSON
// text (a map's an object), and lists are JSON arrays: [1, 2], ["a", "b"],
// [true, false], base64 strings for bytes and time strings for times.
// Float and double lists may drop the brackets or use braces: {0.1, 0.2}.
// A cell that does not parse is an error naming the file, the line, the
// column and what was expected:
//
//	bad.csv:3: column "clicks": expected an int64, got "abc"
//	bad.csv:4: column "tags": item 1 is null; a list holds no null items (write null for the whole list)
//
// A Table counts how much of its file has been read, for progress bars:
//
//	t, err := tableio.Open(ctx, "day.csv", func(col string) (arrow.DataType, error) {
//		return tableio.CSVType(types[col]), nil
//	})
//	if err != nil {
//		return err
//	}
//	defer t.Close()
//	t.OnRecord = func() { fmt.Printf("%d of %d %s\n", t.Done(), t.Total, t.Unit) }
//	err = send(t) // t is an array.RecordReader
//
// A ParquetWriter writes beside its file and moves it into place on Commit:
//
//	w := tableio.NewParquetWriter("out.parquet")
//	for _, rec := range records {
//		if err := w.Write(rec); err != nil {
//			w.Abort()
//			return err
//		}
//	}
//	return w.Commit()
package tableio
