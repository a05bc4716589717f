package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/quickstart"
	"github.com/timefence/timefence/internal/tableio"
)

// load writes the generated inputs to files and replays the pipeline's
// history into the store as backfills, each version with its real landing time.
func (q *qsRun) load(ctx context.Context) error {
	d := q.res.Data
	if err := q.writeTransactions(); err != nil {
		return err
	}
	if err := q.writeVersions(); err != nil {
		return err
	}
	for _, name := range []string{"spine.parquet", "spine_crossing_cutoff.parquet"} {
		spine := d.TrainSpine()
		if name != "spine.parquet" {
			spine = d.CrossingSpine()
		}
		rec := quickstart.SpineRecord(spine)
		sink := tableio.NewParquetWriter(q.path(name))
		err := sink.Write(rec)
		rec.Release()
		if err == nil {
			err = sink.Commit()
		}
		if err != nil {
			sink.Abort()
			return err
		}
	}
	start := 0
	for start < len(d.Versions) {
		run := d.Versions[start].AvailableAt
		end := start
		rows := []client.Row{}
		for ; end < len(d.Versions) && d.Versions[end].AvailableAt.Equal(run); end++ {
			v := d.Versions[end]
			rows = append(rows, client.Row{Key: []any{v.User}, EventTime: v.EventTime, AvailableAt: v.AvailableAt,
				Values: []any{v.Spend, v.Count, v.MaxAmount}})
		}
		_, err := q.s.Write(ctx, "user_daily_spend", rows, client.Backfill(),
			client.WithFeatures("spend_1d", "txn_count_1d", "max_amount_1d"),
			client.WithBatchID("quickstart-run-"+run.Format("2006-01-02")))
		if err != nil {
			if errors.Is(err, client.ErrBatchConflict) {
				return err
			}
			return q.s.explain(err)
		}
		start = end
	}
	q.say("→ replayed %s pipeline landings into the store as backfills, each with its real available_at", count(int64(len(d.Versions))))
	q.say("  (%s, %s)", q.path("transactions.csv"), q.path("user_daily_spend.csv"))
	q.say("")
	return nil
}

func (q *qsRun) writeTransactions() error {
	return q.writeCSV("transactions.csv", []string{"txn_id", "user_id", "event_timestamp", "amount", "is_fraud", "arrived_at"},
		func(emit func(...string)) {
			for _, t := range q.res.Data.Txns {
				emit(strconv.FormatInt(t.ID, 10), strconv.FormatInt(t.User, 10), t.Time.Format(time.RFC3339),
					strconv.FormatFloat(t.Amount, 'f', 2, 64), strconv.FormatBool(t.Fraud), t.Arrived.Format(time.RFC3339))
			}
		})
}

func (q *qsRun) writeVersions() error {
	return q.writeCSV("user_daily_spend.csv", []string{"user_id", "event_timestamp", "available_at", "spend_1d", "txn_count_1d", "max_amount_1d", "correction"},
		func(emit func(...string)) {
			for _, v := range q.res.Data.Versions {
				emit(strconv.FormatInt(v.User, 10), v.EventTime.Format(time.RFC3339), v.AvailableAt.Format(time.RFC3339Nano),
					strconv.FormatFloat(v.Spend, 'f', 2, 64), strconv.FormatInt(v.Count, 10),
					strconv.FormatFloat(v.MaxAmount, 'f', 2, 64), strconv.FormatBool(v.Correction))
			}
		})
}

func (q *qsRun) writeCSV(name string, header []string, rows func(emit func(...string))) error {
	f, err := os.Create(q.path(name))
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", q.path(name), unwrapPath(err))
	}
	cw := csv.NewWriter(f)
	cw.Write(header)
	rows(func(cells ...string) { cw.Write(cells) })
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %v", q.path(name), err)
	}
	return f.Close()
}

// join builds the training set with timefence's point-in-time join and
// compares it, row by row, with a naive event-time join of the same spine.
func (q *qsRun) join(ctx context.Context) error {
	d := q.res.Data
	spine := d.TrainSpine()
	rec := quickstart.SpineRecord(spine)
	defer rec.Release()
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.Record{rec})
	if err != nil {
		return err
	}
	defer rr.Release()
	out := q.path("training_set.parquet")
	sink := tableio.NewParquetWriter(out)
	var got []quickstart.Features
	sum, err := q.s.GetHistorical(ctx, "train", []string{"user_daily_spend"}, rr, func(r arrow.Record) error {
		got = append(got, quickstart.ReadFeatures(r)...)
		return sink.Write(r)
	})
	if err != nil {
		sink.Abort()
		return q.s.explain(err)
	}
	if err := sink.Commit(); err != nil {
		return err
	}
	if _, err := q.s.writeManifest(ctx, sum.DatasetID, out); err != nil {
		return err
	}
	if len(got) != len(spine) {
		return fmt.Errorf("the join returned %d rows for a spine of %d", len(got), len(spine))
	}
	leaked := d.Leaks(spine, got)
	q.res.SpineRows, q.res.Leaked = int64(len(spine)), int64(len(leaked))
	q.res.NaiveDifferences, q.res.DatasetID = sum.NaiveDifferences, sum.DatasetID

	q.say("1. A naive join on event time alone, and 2. timefence's point-in-time join,")
	q.say("   on the same %s training rows (the transactions in split train, %s).", count(int64(len(spine))), q.path("spine.parquet"))
	q.say("   Some rows where they differ:")
	q.say("")
	t := newTable("txn_id", "user_id", "transaction at", "1. naive spend_1d", "2. timefence spend_1d", "what the naive join read").alignRight(0, 1, 3, 4)
	t.indent = "   "
	for _, i := range sample(leaked, 8) {
		tx := spine[i]
		nv, ok := d.Naive(tx.User, tx.Time)
		naive := "null"
		if ok {
			naive = strconv.FormatFloat(nv.Spend, 'f', 2, 64)
		}
		timefence := "null"
		if got[i].OK {
			timefence = strconv.FormatFloat(got[i].Spend, 'f', 2, 64)
		}
		what := fmt.Sprintf("the %s total, landed %s later", nv.EventTime.AddDate(0, 0, -1).Format("Jan 02"), humanDuration(nv.AvailableAt.Sub(tx.Time)))
		if nv.Correction {
			what = fmt.Sprintf("the corrected %s total, landed %s later", nv.EventTime.AddDate(0, 0, -1).Format("Jan 02"), humanDuration(nv.AvailableAt.Sub(tx.Time)))
		}
		t.add(strconv.FormatInt(tx.ID, 10), strconv.FormatInt(tx.User, 10), tx.Time.Format("2006-01-02 15:04"), naive, timefence, what)
	}
	t.write(q.w)
	q.say("")
	q.say("3. The leak: in %s of %s rows (%s) the naive join read a day total that had not",
		count(q.res.Leaked), count(q.res.SpineRows), percent(ratio(q.res.Leaked, q.res.SpineRows)))
	q.say("   landed yet when the transaction happened: a value the model could never have had")
	q.say("   at prediction time. timefence read what production could read at each row's time.")
	q.say("   The server's join summary counts it too: naive_differences = %s", count(sum.NaiveDifferences))
	if sum.NaiveDifferences != q.res.Leaked {
		q.say("   (rows where the naive join reads another version, even one of equal value or past the ttl).")
	}
	q.say("   → %s and %s (dataset %s)", out, manifestPath(out), short(sum.DatasetID))
	q.say("")
	return nil
}

// guard sends a spine that crosses the cutoff of split train.
func (q *qsRun) guard(ctx context.Context) error {
	spine := q.res.Data.CrossingSpine()
	q.res.CrossingRows = len(spine)
	rec := quickstart.SpineRecord(spine)
	defer rec.Release()
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.Record{rec})
	if err != nil {
		return err
	}
	defer rr.Release()
	_, err = q.s.GetHistorical(ctx, "train", []string{"user_daily_spend"}, rr, func(arrow.Record) error {
		return errors.New("the guard let a crossing spine through")
	})
	e, ok := serverError(err)
	if !ok || e.Reason != "CUTOFF_EXCEEDED" {
		if err == nil {
			return errors.New("the guard let a spine crossing the cutoff through")
		}
		return q.s.explain(err)
	}
	q.res.Refused = e.Metadata["offending_rows"]
	q.say("4. The guard: a spine of %s transactions from %s to %s (%s)", count(int64(len(spine))),
		spine[0].Time.Format("Jan 02"), spine[len(spine)-1].Time.Format("Jan 02"), q.path("spine_crossing_cutoff.parquet"))
	q.say("   crosses the cutoff of split train, %s. timefence refuses it whole:", quickstart.Cutoff.Format(time.RFC3339))
	q.say("   %s: %s", e.Reason, e.Message)
	q.say("")
	return nil
}

// sample returns up to n items of xs, evenly spread.
func sample(xs []int, n int) []int {
	if len(xs) <= n {
		return xs
	}
	out := make([]int, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// humanDuration formats d as 4h31m or 2d3h.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%02dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

// short abbreviates a dataset id for display.
func short(id string) string {
	if len(id) > 16 {
		return id[:16] + "…"
	}
	return id
}

func (q *qsRun) finish(took time.Duration) error {
	readme := strings.ReplaceAll(quickstartReadme, "{dir}", q.dir)
	if err := os.WriteFile(q.path("README.txt"), []byte(readme), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %v", q.path("README.txt"), unwrapPath(err))
	}
	q.say("Done in %s. %s has the definitions, the inputs, the training set and the store;", took.Round(100*time.Millisecond), q.dir)
	q.say("%s says what each file is. Try next:", q.path("README.txt"))
	q.say("")
	q.say("  timefence serve --data %s &", q.path("data"))
	q.say("  timefence get --features user_daily_spend --key user_id=1042 --split train --as-of 2024-03-15T02:00:00Z")
	q.say("  timefence stats --split recent --view user_daily_spend --compare train")
	return nil
}
