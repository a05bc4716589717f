package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// The quickstart's world: card holders making transactions over 30 days,
// and a nightly pipeline aggregating each day into user_daily_spend.
var (
	qsStart  = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	qsCutoff = time.Date(2024, 3, 21, 23, 59, 59, 0, time.UTC) // end of split "train"
)

const (
	qsDays  = 30
	qsUsers = 300
	qsTTL   = 48 * time.Hour
	// qsExtraRuns are pipeline runs after the last day, landing late arrivals.
	qsExtraRuns = 3
)

// qsTxn is one card transaction.
type qsTxn struct {
	ID     int64
	User   int64
	Time   time.Time
	Amount float64
	Fraud  bool
	// Arrived is when the pipeline could see it: Time, or days later for
	// a transaction from an offline terminal.
	Arrived time.Time
}

// qsVersion is one row the pipeline landed in user_daily_spend.
type qsVersion struct {
	User        int64
	EventTime   time.Time // the close of the day aggregated
	AvailableAt time.Time // when the pipeline run landed it
	Spend       float64
	Count       int64
	MaxAmount   float64
	Correction  bool // a re-landing after late transactions arrived
}

// qsData is the generated world, the same on every run.
type qsData struct {
	Txns     []qsTxn
	Versions []qsVersion // in landing order
	Runs     []time.Time // when each nightly run landed

	byUser map[int64][]int // indexes of Versions, per user
}

// generateQuickstart builds the quickstart's data from a fixed seed.
func generateQuickstart() *qsData {
	rng := rand.New(rand.NewPCG(20240301, 7))
	// Transactions cluster in the day, with some at night.
	hourWeights := []int{2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 10, 10, 9, 9, 9, 10, 11, 11, 9, 7, 5, 3}
	totalWeight := 0
	for _, w := range hourWeights {
		totalWeight += w
	}
	hour := func() int {
		x := rng.IntN(totalWeight)
		for h, w := range hourWeights {
			if x < w {
				return h
			}
			x -= w
		}
		return 23
	}
	d := &qsData{}
	for u := range qsUsers {
		user := int64(1001 + u)
		active := 0.3 + 0.6*rng.Float64()
		typical := 12 * math.Exp(1.2*rng.Float64()+0.4*rng.NormFloat64())
		for day := range qsDays {
			if rng.Float64() > active {
				continue
			}
			for range 1 + rng.IntN(4) {
				at := qsStart.AddDate(0, 0, day).Add(time.Duration(hour())*time.Hour +
					time.Duration(rng.IntN(3600))*time.Second)
				amount := math.Round(typical*math.Exp(0.6*rng.NormFloat64())*100) / 100
				txn := qsTxn{User: user, Time: at, Amount: amount, Arrived: at,
					Fraud: rng.Float64() < 0.01+0.04*boolTo(amount > 4*typical)}
				if rng.Float64() < 0.05 { // an offline terminal uploads it later
					txn.Arrived = at.Add(24*time.Hour + time.Duration(rng.IntN(48*3600))*time.Second)
				}
				d.Txns = append(d.Txns, txn)
			}
		}
	}
	slices.SortStableFunc(d.Txns, func(a, b qsTxn) int { return a.Time.Compare(b.Time) })
	for i := range d.Txns {
		d.Txns[i].ID = int64(500001 + i)
	}
	d.runPipeline(rng)
	return d
}

func boolTo(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// runPipeline replays the nightly runs: run k closes day k and lands 3 to 9
// hours after midnight; it (re-)aggregates every user-day that received
// transactions since the previous run.
func (d *qsData) runPipeline(rng *rand.Rand) {
	type userDay struct {
		user int64
		day  int
	}
	txns := map[userDay][]qsTxn{}
	for _, t := range d.Txns {
		ud := userDay{t.User, int(t.Time.Sub(qsStart) / (24 * time.Hour))}
		txns[ud] = append(txns[ud], t)
	}
	landed := map[userDay]bool{}
	prev := time.Time{}
	for k := range qsDays + qsExtraRuns {
		lag := 3*time.Hour + time.Duration(rng.IntN(6*3600))*time.Second + time.Duration(1+rng.IntN(999))*time.Millisecond
		run := qsStart.AddDate(0, 0, k+1).Add(lag)
		d.Runs = append(d.Runs, run)
		touched := map[userDay]bool{}
		for _, t := range d.Txns {
			if t.Arrived.After(prev) && !t.Arrived.After(run) {
				touched[userDay{t.User, int(t.Time.Sub(qsStart) / (24 * time.Hour))}] = true
			}
		}
		order := make([]userDay, 0, len(touched))
		for ud := range touched {
			order = append(order, ud)
		}
		slices.SortFunc(order, func(a, b userDay) int {
			if a.day != b.day {
				return a.day - b.day
			}
			return int(a.user - b.user)
		})
		for _, ud := range order {
			v := qsVersion{User: ud.user, EventTime: qsStart.AddDate(0, 0, ud.day+1), AvailableAt: run, Correction: landed[ud]}
			for _, t := range txns[ud] {
				if !t.Arrived.After(run) {
					v.Spend += t.Amount
					v.Count++
					v.MaxAmount = max(v.MaxAmount, t.Amount)
				}
			}
			v.Spend = math.Round(v.Spend*100) / 100
			landed[ud] = true
			d.Versions = append(d.Versions, v)
		}
		prev = run
	}
	d.byUser = map[int64][]int{}
	for i, v := range d.Versions {
		d.byUser[v.User] = append(d.byUser[v.User], i)
	}
}

// trainSpine returns the transactions within split "train": the rows a
// fraud model trains on.
func (d *qsData) trainSpine() []qsTxn {
	var out []qsTxn
	for _, t := range d.Txns {
		if !t.Time.After(qsCutoff) {
			out = append(out, t)
		}
	}
	return out
}

// crossingSpine returns transactions from three days before the cutoff to
// three days after it: a spine the guard must refuse.
func (d *qsData) crossingSpine() []qsTxn {
	var out []qsTxn
	from, to := qsCutoff.AddDate(0, 0, -3), qsCutoff.AddDate(0, 0, 3)
	for _, t := range d.Txns {
		if t.Time.After(from) && !t.Time.After(to) {
			out = append(out, t)
		}
	}
	return out
}

// naiveJoin is what a join on event time alone reads for user at t, over a
// snapshot taken at the cutoff: the latest day closed by t, including
// re-landings that arrived later. ok is false when it reads nothing (no
// version, or older than the ttl).
func (d *qsData) naiveJoin(user int64, t time.Time) (v qsVersion, ok bool) {
	found := false
	for _, i := range d.byUser[user] {
		x := d.Versions[i]
		if x.EventTime.After(t) || x.AvailableAt.After(qsCutoff) {
			continue
		}
		if !found || x.EventTime.After(v.EventTime) || (x.EventTime.Equal(v.EventTime) && x.AvailableAt.After(v.AvailableAt)) {
			v, found = x, true
		}
	}
	return v, found && t.Sub(v.EventTime) <= qsTTL
}
