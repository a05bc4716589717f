// Package storage is timefence's versioned feature store on Badger.
//
// Every write of a feature view for an entity key is kept as its own version,
// with the writer's event time, the server-assigned available-at time and a
// strictly increasing sequence number. Reads evaluate one rule, the read rule:
//
//	candidates = versions with event_time <= t, available_at <= t, seq <= watermark
//	winner     = the candidate with the greatest (event_time, available_at, seq)
//
// Every read function takes its time bound t explicitly; there is no read
// without one. Online lookups pass t = now, point-in-time joins pass each spine
// row's timestamp.
//
//	st, err := storage.Open(storage.DefaultOptions(dir))
//	...
//	res, err := st.Write(ctx, storage.Batch{View: "user_stats", Rows: rows})
//	...
//	at, w := st.ReadTime()
//	versions, err := st.Lookup(view, keys, []int64{at}, w, nil)
package storage
