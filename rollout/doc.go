// Package rollout is cutover's rollout controller: it ramps the share of a
// route's traffic served by new through the route's steps while new answers
// like old, and sends everything back to old when it does not.
//
// The pieces:
//
//   - Evaluate (gate.go) is the gate, a pure function of a step's counts.
//   - Machine (machine.go) is one route's state machine, pure too: time
//     comes in as an argument, so tables of synthetic readings drive it.
//   - Feed (feed.go) takes the evidence as it happens — pairs from the
//     shadow workers, calls to new from the proxy and the shadow — into
//     the current step's counts without ever waiting on the controller.
//   - Controller (controller.go) runs the machines every Interval, swaps
//     in fresh counts when a step begins, and tells the gateway to swap in
//     a router table with the new percents. With a store (store.go), each
//     round adds this gateway's step counts to the step's tally, takes or
//     renews the route's lease, follows the stored state and, where it
//     holds the lease, decides and stores the decision at the revision it
//     read: on Redis one replica decides for all, on the embedded store
//     the one gateway always holds the lease. status.go describes a
//     rollout for the API, metrics.go for Prometheus.
//
// # Why confidence intervals
//
// A step that compares the diff rate it read with the limit decides on
// noise: with a limit of 0.5%, 500 clean pairs and 500 pairs with two
// differences read 0% and 0.4%, and neither says the true rate is below
// 0.5%. The gate reads a 95% Wilson score interval around each rate (it
// behaves where the normal approximation does not: near zero, with few
// events) and passes a rate when the upper bound is below the limit, fails
// it when the lower bound is above. Zero differences need 765 pairs to pass
// 0.5% (upper bound z²/(n+z²)); 5 differences in 100 pairs fail it (lower
// bound 2.15%).
//
// The gate looks twice a second for as long as a step runs, and every look
// is another chance to fail a good service by bad luck. A failure needs at
// least MinFailEvents bad events, which the simulation in gate_test.go
// shows keeps that chance small: a service at half the limit is rolled back
// in 0.65% of 20 000-pair steps, and a 5% regression is still caught after
// 99 pairs on average. (A confidence sequence, valid however often it is
// looked at, would make that chance exact; its bounds are wider, so every
// step would need more pairs to pass, and a ramp pays that at each step.)
//
// # Latency
//
// A p99 is not a rate, but "new's p99 is above r × old's p99" is the same
// statement as "more than 1% of new's answers are slower than r × old's
// p99", which is one. The step advances on the ratio of the two p99s and
// fails when that share's lower bound is above 1%, once the step has its
// min_samples pairs. p99s below LatencyFloor count as LatencyFloor: on
// loopback, a ratio of two sub-millisecond p99s measures the scheduler.
//
// # Noise
//
// Each step's aggregator counts only the step's pairs, but which (path,
// kind)s are noise comes from the route's since-start aggregator (a
// diff.Baseline): a new step has too few old/secondary pairs to tell a
// random field from a regression, while the route has been measuring them
// since it started. A route with a secondary waits for MinNoisePairs of
// them before its diff checks decide anything.
package rollout
