package rollout

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var fixtureNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var fixtureSteps = []float64{1, 2, 10, 20, 40, 80, 100}

// progressing: step 2 is collecting its samples and time.
func progressingStatus() Status {
	return Status{
		Route: "orders", State: Progressing, Step: 2, Steps: fixtureSteps, Percent: 2,
		Since: fixtureNow.Add(-80 * time.Second), StepStarted: fixtureNow.Add(-80 * time.Second),
		WaitingFor: "188 more compared pairs (312 of 500), 8m40s more time (1m20s of 10m0s)",
		Counts:     StepCounts{Compared: 312, Differing: 1, Calls: 340, NoisePairs: 45, OldP99: 12.1, NewP99: 13.04},
		Checks: []Check{
			{Name: "samples", Status: CheckWait, Count: 312, N: 500, Value: 312, Limit: 500, Detail: "188 more compared pairs (312 of 500)"},
			{Name: "duration", Status: CheckWait, Value: 80.4, Limit: 600, Detail: "8m40s more time (1m20s of 10m0s)"},
			{Name: "noise_baseline", Status: CheckPass, Count: 45, N: 30, Value: 45, Limit: 30, Detail: "45 old/secondary pairs measure the noise"},
			{Name: "diff_rate", Status: CheckWait, Count: 1, N: 312, Value: 1.0 / 312, Lower: 0.00057, Upper: 0.01789, Limit: 0.005},
			{Name: "error_rate", Status: CheckWait, Count: 0, N: 340, Value: 0, Upper: 0.01118, Limit: 0.01},
			{Name: "p99_ratio", Status: CheckPass, Count: 0, N: 312, Value: 13.04 / 12.1, Upper: 0.0122, Limit: 1.5},
		},
	}
}

const progressingText = `ROUTE   STATE        STEP  PERCENT  FOR
orders  progressing  2/7   2%       1m20s
  compared 312 of 500 · time 1m20s of 10m · noise baseline 45 pairs
  diff rate   0.32% (1/312)  upper 1.79%              limit 0.5%  wait
  error rate  0% (0/340)     upper 1.12%              limit 1%    wait
  p99 ratio   1.08           old 12.1ms, new 13.04ms  limit 1.50  pass
  waiting for: 188 more compared pairs (312 of 500), 8m40s more time (1m20s of 10m0s)
`

func TestWriteStatusProgressing(t *testing.T) {
	checkStatusText(t, []Status{progressingStatus()}, progressingText)
}

func checkStatusText(t *testing.T, rs []Status, want string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteStatus(&b, rs, fixtureNow); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("WriteStatus:\ngot:\n%s\nwant:\n%s", got, want)
	}
	for i, l := range strings.Split(b.String(), "\n") {
		if n := len([]rune(l)); n > TextWidth {
			t.Errorf("line %d is %d runes wide: %q", i+1, n, l)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %d ends in a space: %q", i+1, l)
		}
	}
}

// holding: step 3 has its samples and time, but the diff rate's interval
// still straddles the limit; the reason and what it waits for are one.
func holdingStatus() Status {
	why := "diff rate 0.4% (4 of 1000 pairs): its upper bound 1.02% is not yet below the 0.5% limit (about 3120 more pairs at this rate)"
	return Status{
		Route: "payments", State: Holding, Step: 3, Steps: fixtureSteps, Percent: 10, Reason: why, WaitingFor: why,
		Since: fixtureNow.Add(-15*time.Minute - 2*time.Second), StepStarted: fixtureNow.Add(-25 * time.Minute),
		Counts: StepCounts{Compared: 1000, Differing: 4, Calls: 1100, Errors: 2, OldP99: 40, NewP99: 38.5},
		Checks: []Check{
			{Name: "samples", Status: CheckPass, Count: 1000, N: 500, Value: 1000, Limit: 500},
			{Name: "duration", Status: CheckPass, Value: 1500, Limit: 600},
			{Name: "diff_rate", Status: CheckWait, Count: 4, N: 1000, Value: 0.004, Lower: 0.00156, Upper: 0.01023, Limit: 0.005, Detail: why},
			{Name: "error_rate", Status: CheckPass, Count: 2, N: 1100, Value: 2.0 / 1100, Lower: 0.0005, Upper: 0.00661, Limit: 0.01},
			{Name: "p99_ratio", Status: CheckPass, N: 1000, Value: 38.5 / 40, Limit: 1.5},
		},
	}
}

const holdingText = `ROUTE     STATE        STEP  PERCENT  FOR
payments  holding      3/7   10%      15m2s
  compared 1000 ≥ 500 · time 25m ≥ 10m
  diff rate   0.4% (4/1000)   upper 1.02%           limit 0.5%  wait
  error rate  0.18% (2/1100)  upper 0.66%           limit 1%    pass
  p99 ratio   0.96            old 40ms, new 38.5ms  limit 1.50  pass
  reason: diff rate 0.4% (4 of 1000 pairs): its upper bound 1.02% is not yet below the 0.5% limit
          (about 3120 more pairs at this rate)
`

func TestWriteStatusHolding(t *testing.T) {
	checkStatusText(t, []Status{holdingStatus()}, holdingText)
}

// rolled back: the diff rate failed step 4 and a blocked kind differed.
func rolledBackStatus() Status {
	return Status{
		Route: "users", State: RolledBack, Step: 4, Steps: fixtureSteps, Percent: 0,
		Reason: "diff rate 2.4% (12 of 500 pairs): its lower bound 1.38% is above the 0.5% limit at 95% confidence; " +
			"top paths: items.#.price value ×9 (sample 0af31c), total value ×3 (sample 81bc07)",
		Since: fixtureNow.Add(-2*time.Hour - 3*time.Minute), StepStarted: fixtureNow.Add(-2*time.Hour - 14*time.Minute),
		Counts: StepCounts{Compared: 500, Differing: 12, Calls: 530, Errors: 1, NoisePairs: 31, OldP99: 8, NewP99: 9.25},
		Limits: Limits{MinSamples: 500, MinDuration: "10m0s", MaxDiffRate: 0.005, MaxErrorRate: 0.02, MaxP99Ratio: 1.1,
			OnFail: OnFailRollback, BlockKinds: []string{"status", "type"}, Confidence: 0.95},
		Checks: []Check{
			{Name: "samples", Status: CheckPass, Count: 500, N: 500, Value: 500, Limit: 500},
			{Name: "duration", Status: CheckPass, Value: 660.2, Limit: 600},
			{Name: "noise_baseline", Status: CheckPass, Count: 31, N: 30, Value: 31, Limit: 30},
			{Name: "diff_rate", Status: CheckFail, Count: 12, N: 500, Value: 0.024, Lower: 0.01378, Upper: 0.04152, Limit: 0.005},
			{Name: "block_kinds", Status: CheckPass, Detail: "no difference of kind status, type"},
			{Name: "error_rate", Status: CheckPass, Count: 1, N: 530, Value: 1.0 / 530, Lower: 0.0003, Upper: 0.01063, Limit: 0.02},
			{Name: "p99_ratio", Status: CheckFail, Count: 9, N: 500, Value: 9.25 / 8, Lower: 0.0095, Upper: 0.034, Limit: 1.1},
		},
	}
}

const rolledBackText = `ROUTE  STATE        STEP  PERCENT  FOR
users  rolled_back  4/7   0%       2h3m
  compared 500 ≥ 500 · time 11m ≥ 10m · noise baseline 31 pairs
  diff rate    2.4% (12/500)  lower 1.38%                      limit 0.5%  fail
  block kinds  0              kinds status, type               limit 0     pass
  error rate   0.19% (1/530)  upper 1.06%                      limit 2%    pass
  p99 ratio    1.16           old 8ms, new 9.25ms; slow 9/500  limit 1.10  fail
  reason: diff rate 2.4% (12 of 500 pairs): its lower bound 1.38% is above the 0.5% limit at 95%
          confidence; top paths: items.#.price value ×9 (sample 0af31c), total value ×3 (sample
          81bc07)
`

func TestWriteStatusRolledBack(t *testing.T) {
	checkStatusText(t, []Status{rolledBackStatus()}, rolledBackText)
}

// promoted: new serves 100%; nothing is awaited.
func promotedStatus() Status {
	return Status{
		Route: "search", State: Promoted, Step: 7, Steps: fixtureSteps, Percent: 100, Reason: "every check passed",
		Since: fixtureNow.Add(-26*time.Hour - 5*time.Second), StepStarted: fixtureNow.Add(-26*time.Hour - 5*time.Second),
		WaitingFor: "", Checks: nil,
	}
}

const promotedText = `ROUTE   STATE        STEP  PERCENT  FOR
search  promoted     7/7   100%     26h5s
`

func TestWriteStatusPromoted(t *testing.T) {
	checkStatusText(t, []Status{promotedStatus()}, promotedText)
}

// pending: the rollout has just started and the gate has read nothing.
func pendingStatus() Status {
	return Status{
		Route: "inventory-search", State: Pending, Step: 1, Steps: []float64{0.5, 5, 50, 100}, Percent: 0.5,
		Since: fixtureNow.Add(-4 * time.Second), StepStarted: fixtureNow.Add(-4 * time.Second),
		WaitingFor: "500 more compared pairs (0 of 500), 10m0s more time (4s of 10m0s)",
	}
}

// paused: by hand, with its readings kept.
func pausedStatus() Status {
	return Status{
		Route: "cart", State: Paused, Step: 5, Steps: fixtureSteps, Percent: 40, Reason: "paused by hand",
		Since: fixtureNow.Add(-90 * time.Minute), StepStarted: fixtureNow.Add(-3 * time.Hour), WaitingFor: "paused by hand: resume to continue",
		Checks: []Check{
			{Name: "samples", Status: CheckPass, Value: 7012, Limit: 500},
			{Name: "duration", Status: CheckWait, Value: 59, Limit: 600},
			{Name: "schema", Status: CheckWait, Detail: "a check this version does not know"},
		},
	}
}

// TestWriteStatusSeveral checks that the rows of several rollouts line up
// under one header, one block each.
func TestWriteStatusSeveral(t *testing.T) {
	rs := []Status{pendingStatus(), pausedStatus(), promotedStatus()}
	want := `ROUTE             STATE        STEP  PERCENT  FOR
inventory-search  pending      1/4   0.5%     4s
  no readings yet
  waiting for: 500 more compared pairs (0 of 500), 10m0s more time (4s of 10m0s)

cart              paused       5/7   40%      1h30m
  compared 7012 ≥ 500 · time 59s of 10m
  schema: a check this version does not know (wait)
  reason: paused by hand
  waiting for: paused by hand: resume to continue

search            promoted     7/7   100%     26h5s
`
	checkStatusText(t, rs, want)
}

func TestWriteStatusNone(t *testing.T) {
	checkStatusText(t, nil, "no rollouts: no route has a rollout block\n")
}

func TestWriteEvents(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	t0 := time.Date(2025, 6, 1, 11, 0, 0, 0, cest)
	evs := []Event{
		{Time: t0, Route: "orders", To: Pending, Step: 1, Percent: 1, By: ByConfig, Reason: "serve started"},
		{Time: t0.Add(3 * time.Second), Route: "orders", From: Pending, To: Progressing, Step: 1, Percent: 1, By: ByController, Reason: "first compared pair"},
		{Time: t0.Add(10*time.Minute + 41*time.Second), Route: "orders", From: Progressing, To: Progressing, Step: 2, Percent: 2, By: ByController, Reason: "every check passed"},
		{Time: t0.Add(12 * time.Minute), Route: "orders", From: Progressing, To: Paused, Step: 2, Percent: 2, By: ByHand, Reason: "paused by hand"},
		{Time: t0.Add(20 * time.Minute), Route: "orders", From: Paused, To: RolledBack, Step: 2, Percent: 0, By: ByHand, Reason: "rolled back by hand:\nprices differ"},
		{Time: t0.Add(21 * time.Minute), Route: "orders", From: RolledBack, To: Progressing, Step: 1, Percent: 1, By: ByHand},
	}
	want := `TIME                  STEP  PERCENT  TRANSITION                 BY          REASON
2025-06-01T09:00:00Z  1     1%       start → pending            config      serve started
2025-06-01T09:00:03Z  1     1%       pending → progressing      controller  first compared pair
2025-06-01T09:10:41Z  2     2%       progressing → progressing  controller  every check passed
2025-06-01T09:12:00Z  2     2%       progressing → paused       hand        paused by hand
2025-06-01T09:20:00Z  2     0%       paused → rolled_back       hand        rolled back by hand: prices differ
2025-06-01T09:21:00Z  1     1%       rolled_back → progressing  hand
`
	var b bytes.Buffer
	if err := WriteEvents(&b, evs); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("WriteEvents:\ngot:\n%s\nwant:\n%s", got, want)
	}
	b.Reset()
	if err := WriteEvents(&b, nil); err != nil || b.String() != "no events\n" {
		t.Errorf("WriteEvents(nil) = %q, %v", b.String(), err)
	}
}

func TestWriteStatusDurations(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Minute, "0s"}, {499 * time.Millisecond, "0s"}, {1500 * time.Millisecond, "2s"},
		{80 * time.Second, "1m20s"}, {10 * time.Minute, "10m"}, {time.Hour + 5*time.Second, "1h5s"},
		{49*time.Hour + 12*time.Minute + 3*time.Second, "49h12m3s"},
	} {
		if got := durationText(c.d); got != c.want {
			t.Errorf("durationText(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
