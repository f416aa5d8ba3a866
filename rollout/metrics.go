package rollout

import (
	"fmt"
	"io"
	"maps"
)

// WriteMetrics writes the rollout metrics in the Prometheus text format.
// cutover_rollout_leader is written once the controller has a store.
func (c *Controller) WriteMetrics(w io.Writer) {
	c.mu.Lock()
	type row struct {
		route   string
		percent float64
		step    int
		state   State
		trans   map[State]uint64
		leading bool
	}
	rows := make([]row, 0, len(c.order))
	for _, name := range c.order {
		r := c.routes[name]
		rows = append(rows, row{name, r.m.Percent(), r.m.Step + 1, r.m.State, maps.Clone(c.transitions[name]), r.token != 0})
	}
	stored := c.st != nil
	storeErrors := c.storeErrors
	c.mu.Unlock()
	hooks := c.hooks.counts()

	fmt.Fprintln(w, "# HELP cutover_rollout_percent Share of the route's traffic the rollout sends to new, in percent.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_percent gauge")
	for _, r := range rows {
		fmt.Fprintf(w, "cutover_rollout_percent{route=%q} %g\n", r.route, r.percent)
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_step The rollout's current step, 1-based.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_step gauge")
	for _, r := range rows {
		fmt.Fprintf(w, "cutover_rollout_step{route=%q} %d\n", r.route, r.step)
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_state 1 for the rollout's current state, 0 for the others.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_state gauge")
	for _, r := range rows {
		for _, s := range allStates {
			v := 0
			if s == r.state {
				v = 1
			}
			fmt.Fprintf(w, "cutover_rollout_state{route=%q,state=%q} %d\n", r.route, s, v)
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_transitions_total Rollout transitions, by the state entered.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_transitions_total counter")
	for _, r := range rows {
		for _, s := range allStates {
			fmt.Fprintf(w, "cutover_rollout_transitions_total{route=%q,to=%q} %d\n", r.route, s, r.trans[s])
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_webhook_total Rollout notifications, by result: delivered, failed (after every retry) or dropped (queue full).")
	fmt.Fprintln(w, "# TYPE cutover_rollout_webhook_total counter")
	for _, r := range rows {
		h := hooks[r.route]
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"delivered\"} %d\n", r.route, h.Delivered)
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"failed\"} %d\n", r.route, h.Failed)
		fmt.Fprintf(w, "cutover_rollout_webhook_total{route=%q,result=\"dropped\"} %d\n", r.route, h.Dropped)
	}
	if stored {
		fmt.Fprintln(w, "# HELP cutover_rollout_leader 1 while this replica holds the route's lease and decides its rollout.")
		fmt.Fprintln(w, "# TYPE cutover_rollout_leader gauge")
		for _, r := range rows {
			v := 0
			if r.leading {
				v = 1
			}
			fmt.Fprintf(w, "cutover_rollout_leader{route=%q} %d\n", r.route, v)
		}
	}
	fmt.Fprintln(w, "# HELP cutover_rollout_store_errors_total Failed writes of rollout state; each is retried.")
	fmt.Fprintln(w, "# TYPE cutover_rollout_store_errors_total counter")
	fmt.Fprintf(w, "cutover_rollout_store_errors_total %d\n", storeErrors)
}

var allStates = []State{Pending, Progressing, Holding, Paused, Promoted, RolledBack}
