package report

import (
	"math"
	"sort"
)

// Observation is one event's duration for survival analysis: how long it
// was seen, and whether its end was seen (Closed) or it is still open
// (right-censored at Duration).
type Observation struct {
	Duration float64 // seconds
	Closed   bool
}

// Step is the Kaplan–Meier estimate just after one distinct event time.
type Step struct {
	Time     float64 `json:"t"` // seconds
	AtRisk   int     `json:"n"` // observations with duration >= Time
	Closed   int     `json:"d"` // closed at Time
	Censored int     `json:"c"` // still open at Time
	Survival float64 `json:"s"` // S(Time)
	// Lower and Upper are the pointwise 95 % confidence band of Survival
	// (Greenwood's variance on the log(-log S) scale). Where S is 1 or 0
	// the band is S itself.
	Lower float64 `json:"lo"`
	Upper float64 `json:"hi"`
	// StdErr is Greenwood's standard error of S(Time).
	StdErr float64 `json:"-"`
}

// Survival is a Kaplan–Meier curve with its median.
type Survival struct {
	N        int    `json:"n"`
	Closed   int    `json:"closed"`
	Steps    []Step `json:"steps"`
	Median   *float64
	MedianLo *float64 // 95 % confidence interval of the median (Brookmeyer–Crowley); nil: not reached
	MedianHi *float64
}

// z975 is the 97.5th percentile of the standard normal distribution.
const z975 = 1.959963984540054

// KaplanMeier estimates the survival function of obs: the product-limit
// estimator, with a step at every distinct duration at which an
// observation closed or was censored. An observation censored at the same
// time as others close is taken to outlast them (the usual convention):
// it is still at risk at that time.
func KaplanMeier(obs []Observation) Survival {
	sorted := make([]Observation, len(obs))
	copy(sorted, obs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Duration < sorted[j].Duration })
	out := Survival{N: len(obs)}
	s, greenwood := 1.0, 0.0
	atRisk := len(sorted)
	for i := 0; i < len(sorted); {
		t := sorted[i].Duration
		d, c := 0, 0
		for ; i < len(sorted) && sorted[i].Duration == t; i++ {
			if sorted[i].Closed {
				d++
			} else {
				c++
			}
		}
		if d > 0 {
			s *= 1 - float64(d)/float64(atRisk)
			if atRisk > d {
				greenwood += float64(d) / (float64(atRisk) * float64(atRisk-d))
			} else {
				greenwood = math.Inf(1)
			}
			out.Closed += d
		}
		step := Step{Time: t, AtRisk: atRisk, Closed: d, Censored: c, Survival: s, Lower: s, Upper: s}
		step.StdErr = s * math.Sqrt(greenwood)
		if s > 0 && s < 1 {
			// log(-log S) has standard error sqrt(greenwood)/|log S|; the
			// band mapped back stays within (0, 1).
			w := z975 * math.Sqrt(greenwood) / math.Abs(math.Log(s))
			step.Lower, step.Upper = math.Pow(s, math.Exp(w)), math.Pow(s, math.Exp(-w))
		}
		out.Steps = append(out.Steps, step)
		atRisk -= d + c
	}
	out.Median = firstAtOrBelow(out.Steps, func(st Step) float64 { return st.Survival })
	// Brookmeyer–Crowley: the times whose band contains one half. The
	// lower band reaches it first, the upper one last.
	out.MedianLo = firstAtOrBelow(out.Steps, func(st Step) float64 { return st.Lower })
	out.MedianHi = firstAtOrBelow(out.Steps, func(st Step) float64 { return st.Upper })
	return out
}

// firstAtOrBelow is the first step time at which curve is at most one
// half, or nil if it never is.
func firstAtOrBelow(steps []Step, curve func(Step) float64) *float64 {
	for _, st := range steps {
		if st.Closed > 0 && curve(st) <= 0.5 {
			t := st.Time
			return &t
		}
	}
	return nil
}
