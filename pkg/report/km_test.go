package report

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// The 6-MP arm of Freireich et al. (1963), remission in weeks, "+" censored:
// 6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+.
// The textbooks' product-limit table (Kleinbaum & Klein, Survival Analysis,
// ch. 2) gives S and Greenwood's standard error below; the median's
// log-log interval is worked by hand in TestKaplanMeierSixMP.
func sixMP() []Observation {
	closed := []float64{6, 6, 6, 7, 10, 13, 16, 22, 23}
	open := []float64{6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35}
	var obs []Observation
	for _, w := range closed {
		obs = append(obs, Observation{Duration: w, Closed: true})
	}
	for _, w := range open {
		obs = append(obs, Observation{Duration: w})
	}
	return obs
}

func TestKaplanMeierSixMP(t *testing.T) {
	km := KaplanMeier(sixMP())
	want := []struct {
		t, s, se float64
		n        int
	}{
		{6, 0.857, 0.076, 21}, {7, 0.807, 0.087, 17}, {10, 0.753, 0.096, 15}, {13, 0.690, 0.107, 12},
		{16, 0.627, 0.114, 11}, {22, 0.538, 0.128, 7}, {23, 0.448, 0.135, 6},
	}
	byTime := map[float64]Step{}
	for _, st := range km.Steps {
		byTime[st.Time] = st
	}
	for _, w := range want {
		st, ok := byTime[w.t]
		if !ok {
			t.Fatalf("no step at %v weeks", w.t)
		}
		if math.Abs(st.Survival-w.s) > 0.0005 || math.Abs(st.StdErr-w.se) > 0.0005 || st.AtRisk != w.n {
			t.Errorf("at %v weeks: S %.4f se %.4f at risk %d, want S %.3f se %.3f at risk %d", w.t, st.Survival, st.StdErr, st.AtRisk, w.s, w.se, w.n)
		}
	}
	if km.N != 21 || km.Closed != 9 {
		t.Errorf("n %d closed %d, want 21 and 9", km.N, km.Closed)
	}
	// By hand: the lower log-log band is 0.503 at 10 weeks and 0.432 at 13;
	// the upper one is still 0.680 at 23, the last time anything closed.
	if km.Median == nil || *km.Median != 23 {
		t.Errorf("median %v, want 23 weeks", deref(km.Median))
	}
	if km.MedianLo == nil || *km.MedianLo != 13 {
		t.Errorf("median's lower 95%% limit %v, want 13 weeks", deref(km.MedianLo))
	}
	if km.MedianHi != nil {
		t.Errorf("median's upper 95%% limit %v, want none (not reached)", *km.MedianHi)
	}
	if st := byTime[10]; math.Abs(st.Lower-0.503) > 0.001 {
		t.Errorf("lower band at 10 weeks %.4f, want 0.503", st.Lower)
	}
	if st := byTime[23]; math.Abs(st.Upper-0.680) > 0.001 {
		t.Errorf("upper band at 23 weeks %.4f, want 0.680", st.Upper)
	}
}

// redistributeToTheRight is Efron's (1967) construction of the same
// estimate, computed in another way: every observation starts with mass
// 1/n; in order of duration (closings before censorings at a tie), a
// censored observation hands its mass in equal parts to every later one.
// S(t) is one minus the mass of the closed ones up to t.
func redistributeToTheRight(obs []Observation) map[float64]float64 {
	o := append([]Observation(nil), obs...)
	sort.SliceStable(o, func(i, j int) bool {
		if o[i].Duration != o[j].Duration {
			return o[i].Duration < o[j].Duration
		}
		return o[i].Closed && !o[j].Closed
	})
	mass := make([]float64, len(o))
	for i := range mass {
		mass[i] = 1 / float64(len(o))
	}
	for i := range o {
		if o[i].Closed || i == len(o)-1 {
			continue
		}
		share := mass[i] / float64(len(o)-i-1)
		for j := i + 1; j < len(o); j++ {
			mass[j] += share
		}
		mass[i] = 0
	}
	s := map[float64]float64{}
	left := 1.0
	for i := range o {
		if o[i].Closed {
			left -= mass[i]
			s[o[i].Duration] = left
		}
	}
	return s
}

func TestKaplanMeierMatchesRedistributionToTheRight(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(60)
		obs := make([]Observation, n)
		for i := range obs {
			// Few distinct values, so that ties of every kind occur.
			obs[i] = Observation{Duration: float64(rng.IntN(15)), Closed: rng.IntN(3) > 0}
		}
		want := redistributeToTheRight(obs)
		km := KaplanMeier(obs)
		got := 0
		for _, st := range km.Steps {
			if st.Closed == 0 {
				continue
			}
			got++
			if math.Abs(st.Survival-want[st.Time]) > 1e-9 {
				t.Fatalf("trial %d: S(%v) = %.12f, redistribution gives %.12f (%v)", trial, st.Time, st.Survival, want[st.Time], obs)
			}
		}
		if got != len(want) {
			t.Fatalf("trial %d: %d closing times, want %d", trial, got, len(want))
		}
	}
}

func TestKaplanMeierAllOpenHasNoMedian(t *testing.T) {
	km := KaplanMeier([]Observation{{Duration: 5}, {Duration: 9}})
	if km.Median != nil || km.MedianLo != nil || km.Closed != 0 {
		t.Errorf("all censored: median %v, lower %v, closed %d; want none", deref(km.Median), deref(km.MedianLo), km.Closed)
	}
	for _, st := range km.Steps {
		if st.Survival != 1 {
			t.Errorf("S(%v) = %v with nothing closed, want 1", st.Time, st.Survival)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}
