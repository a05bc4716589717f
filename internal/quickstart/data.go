package quickstart

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// The quickstart's world: card holders making transactions over 30 days,
// and a nightly pipeline aggregating each day into user_daily_spend.
// Definitions must agree with these.
var (
	Start  = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	Cutoff = time.Date(2024, 3, 21, 23, 59, 59, 0, time.UTC) // end of split "train"
)

const (
	Days  = 30
	Users = 300
	TTL   = 48 * time.Hour // of user_daily_spend
	// extraRuns are pipeline runs after the last day, landing late arrivals.
	extraRuns = 3
)

// Txn is one card transaction.
type Txn struct {
	ID     int64
	User   int64
	Time   time.Time
	Amount float64
	Fraud  bool
	// Arrived is when the pipeline could see it: Time, or days later for
	// a transaction from an offline terminal.
	Arrived time.Time
}

// Version is one row the pipeline landed in user_daily_spend.
type Version struct {
	User        int64
	EventTime   time.Time // the close of the day aggregated
	AvailableAt time.Time // when the pipeline run landed it
	Spend       float64
	Count       int64
	MaxAmount   float64
	Correction  bool // a re-landing after late transactions arrived
}

// Data is the generated world, the same on every run.
type Data struct {
	Txns     []Txn
	Versions []Version // in landing order

	byUser map[int64][]int // indexes of Versions, per user
}

// Generate builds the quickstart's data from a fixed seed.
func Generate() *Data {
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
	d := &Data{}
	for u := range Users {
		user := int64(1001 + u)
		active := 0.3 + 0.6*rng.Float64()
		typical := 12 * math.Exp(1.2*rng.Float64()+0.4*rng.NormFloat64())
		for day := range Days {
			if rng.Float64() > active {
				continue
			}
			for range 1 + rng.IntN(4) {
				at := Start.AddDate(0, 0, day).Add(time.Duration(hour())*time.Hour +
					time.Duration(rng.IntN(3600))*time.Second)
				amount := math.Round(typical*math.Exp(0.6*rng.NormFloat64())*100) / 100
				txn := Txn{User: user, Time: at, Amount: amount, Arrived: at,
					Fraud: rng.Float64() < 0.01+0.04*boolTo(amount > 4*typical)}
				if rng.Float64() < 0.05 { // an offline terminal uploads it later
					txn.Arrived = at.Add(24*time.Hour + time.Duration(rng.IntN(48*3600))*time.Second)
				}
				d.Txns = append(d.Txns, txn)
			}
		}
	}
	slices.SortStableFunc(d.Txns, func(a, b Txn) int { return a.Time.Compare(b.Time) })
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
func (d *Data) runPipeline(rng *rand.Rand) {
	type userDay struct {
		user int64
		day  int
	}
	txns := map[userDay][]Txn{}
	for _, t := range d.Txns {
		ud := userDay{t.User, int(t.Time.Sub(Start) / (24 * time.Hour))}
		txns[ud] = append(txns[ud], t)
	}
	landed := map[userDay]bool{}
	prev := time.Time{}
	for k := range Days + extraRuns {
		lag := 3*time.Hour + time.Duration(rng.IntN(6*3600))*time.Second + time.Duration(1+rng.IntN(999))*time.Millisecond
		run := Start.AddDate(0, 0, k+1).Add(lag)
		touched := map[userDay]bool{}
		for _, t := range d.Txns {
			if t.Arrived.After(prev) && !t.Arrived.After(run) {
				touched[userDay{t.User, int(t.Time.Sub(Start) / (24 * time.Hour))}] = true
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
			v := Version{User: ud.user, EventTime: Start.AddDate(0, 0, ud.day+1), AvailableAt: run, Correction: landed[ud]}
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

// TrainSpine returns the transactions within split "train": the rows a
// fraud model trains on.
func (d *Data) TrainSpine() []Txn {
	var out []Txn
	for _, t := range d.Txns {
		if !t.Time.After(Cutoff) {
			out = append(out, t)
		}
	}
	return out
}

// CrossingSpine returns transactions from three days before the cutoff to
// three days after it: a spine the guard must refuse.
func (d *Data) CrossingSpine() []Txn {
	var out []Txn
	from, to := Cutoff.AddDate(0, 0, -3), Cutoff.AddDate(0, 0, 3)
	for _, t := range d.Txns {
		if t.Time.After(from) && !t.Time.After(to) {
			out = append(out, t)
		}
	}
	return out
}

// Winner is the read rule over the generated versions, by brute force: of
// user's versions with event time <= at and available at <= avail, the one
// with the greatest (event time, available at). ok is false when there is
// none. It does not apply the ttl: see Fresh.
func (d *Data) Winner(user int64, at, avail time.Time) (v Version, ok bool) {
	for _, i := range d.byUser[user] {
		x := d.Versions[i]
		if x.EventTime.After(at) || x.AvailableAt.After(avail) {
			continue
		}
		if !ok || x.EventTime.After(v.EventTime) || (x.EventTime.Equal(v.EventTime) && x.AvailableAt.After(v.AvailableAt)) {
			v, ok = x, true
		}
	}
	return v, ok
}

// Fresh reports whether a read at time at returns v: whether v is within
// the ttl of user_daily_spend.
func Fresh(v Version, at time.Time) bool { return at.Sub(v.EventTime) <= TTL }

// Naive is what a join on event time alone reads for user at t, over a
// snapshot taken at the cutoff: the latest day closed by t, including
// re-landings that arrived later. ok is false when it reads nothing.
func (d *Data) Naive(user int64, t time.Time) (v Version, ok bool) {
	v, ok = d.Winner(user, t, Cutoff)
	return v, ok && Fresh(v, t)
}

// Leaks returns the indexes of the spine's rows whose features in a join
// result (got, one per row) differ from what the naive join reads: the rows
// where a naive join would have leaked.
func (d *Data) Leaks(spine []Txn, got []Features) []int {
	var out []int
	for i, t := range spine {
		if v, ok := d.Naive(t.User, t.Time); !got[i].matches(v, ok) {
			out = append(out, i)
		}
	}
	return out
}
