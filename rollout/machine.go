package rollout

import (
	"errors"
	"fmt"
	"time"

	"github.com/cutover/cutover/diff"
)

// ErrNotApplicable is returned for a manual action the rollout's state
// does not allow, such as resuming a rollout that is not paused.
var ErrNotApplicable = errors.New("not applicable")

// Machine is one route's rollout state machine. It is pure: time comes in
// as arguments and the step's counts as Stats, so it can be driven by
// tables of synthetic readings. It is not safe for concurrent use.
type Machine struct {
	Route       string    `json:"route"`
	State       State     `json:"state"`
	Step        int       `json:"step"` // index into Config.Steps
	StepStarted time.Time `json:"step_started"`
	Since       time.Time `json:"since"` // when State was entered
	Reason      string    `json:"reason,omitempty"`
	// Failed marks a holding step whose gate failed under on_fail: hold;
	// only a manual action moves it.
	Failed bool `json:"failed,omitempty"`
	// Last holds the gate's readings of the latest evaluation.
	Last []Check `json:"last,omitempty"`

	cfg *Config
}

// NewMachine starts a rollout at its first step.
func NewMachine(route string, cfg *Config, now time.Time) (*Machine, Event) {
	m := &Machine{Route: route, cfg: cfg}
	ev := m.enter(now, Pending, 0, fmt.Sprintf("rollout starts at step 1 (%s)", fmtPercent(cfg.Steps[0])), ByConfig, nil)
	return m, ev
}

// Attach gives a machine restored from its encoding its config.
func (m *Machine) Attach(cfg *Config) { m.cfg = cfg }

// Config returns the machine's rules.
func (m *Machine) Config() *Config { return m.cfg }

// Percent is the share served by new in the current state.
func (m *Machine) Percent() float64 {
	switch m.State {
	case Promoted:
		return 100
	case RolledBack:
		return 0
	}
	return m.cfg.Steps[m.Step]
}

// Final reports whether the rollout has ended: promoted or rolled back.
func (m *Machine) Final() bool { return m.State == Promoted || m.State == RolledBack }

// Deciding reports whether the gate runs in the current state.
func (m *Machine) Deciding() bool {
	switch m.State {
	case Pending, Progressing:
		return true
	case Holding:
		return !m.Failed
	}
	return false
}

// enter moves to state at step and returns the transition's event.
func (m *Machine) enter(now time.Time, to State, step int, reason, by string, checks []Check) Event {
	from := m.State
	if step != m.Step || m.StepStarted.IsZero() {
		m.StepStarted = now
	}
	m.State, m.Step, m.Since, m.Reason = to, step, now, reason
	m.Failed = false
	return Event{Time: now, Route: m.Route, From: from, To: to, Step: step + 1, Percent: m.Percent(), Reason: reason, By: by, Checks: checks}
}

// Observe runs the gate on the step's stats. It returns the transition it
// made, if any, and whether the step changed (the caller then starts
// counting afresh).
func (m *Machine) Observe(now time.Time, st *Stats) (ev *Event, newStep bool) {
	if !m.Deciding() {
		return nil, false
	}
	if m.State == Pending && (st.Compared > 0 || st.Calls > 0) {
		// The first step's time starts with its traffic: a gateway that
		// idled since it started has not watched new for that long.
		m.StepStarted = now
	}
	st.Elapsed = now.Sub(m.StepStarted)
	v := Evaluate(m.cfg, st)
	m.Last = v.Checks
	switch v.Outcome {
	case Fail:
		if m.cfg.OnFail == OnFailHold {
			e := m.enter(now, Holding, m.Step, "failed: "+v.Reason, ByController, v.Checks)
			m.Failed = true
			return &e, false
		}
		e := m.enter(now, RolledBack, m.Step, fmt.Sprintf("step %d (%s) failed: %s", m.Step+1, fmtPercent(m.cfg.Steps[m.Step]), v.Reason), ByController, v.Checks)
		return &e, false
	case Advance:
		passed := fmt.Sprintf("step %d (%s) passed: %d compared pairs in %s", m.Step+1, fmtPercent(m.cfg.Steps[m.Step]), st.Compared, roundDuration(st.Elapsed))
		if m.Step == len(m.cfg.Steps)-1 {
			e := m.enter(now, Promoted, m.Step, passed+"; new serves 100%", ByController, v.Checks)
			return &e, false
		}
		next := m.Step + 1
		e := m.enter(now, Progressing, next, fmt.Sprintf("%s; step %d serves %s", passed, next+1, fmtPercent(m.cfg.Steps[next])), ByController, v.Checks)
		return &e, true
	case Hold:
		if m.State != Holding {
			e := m.enter(now, Holding, m.Step, v.Reason, ByController, v.Checks)
			return &e, false
		}
		m.Reason = v.Reason
	case Wait:
		// Evidence has started to arrive. (A holding step never waits
		// again: its pairs, time and noise baseline only grow.)
		if m.State == Pending && (st.Compared > 0 || st.Calls > 0) {
			e := m.enter(now, Progressing, m.Step, "collecting: "+v.Reason, ByController, nil)
			return &e, false
		}
		m.Reason = v.Reason
	}
	return nil, false
}

// Pause stops the decisions; the percent stays.
func (m *Machine) Pause(now time.Time, note string) (Event, error) {
	if m.Final() || m.State == Paused {
		return Event{}, fmt.Errorf("%w: the rollout is %s", ErrNotApplicable, m.State)
	}
	return m.enter(now, Paused, m.Step, withNote("paused by hand", note), ByHand, nil), nil
}

// Resume continues a paused step with its counts, restarts a failed
// holding step with fresh counts, or restarts a rolled-back rollout at its
// first step. fresh reports whether the step's counts start over.
func (m *Machine) Resume(now time.Time, note string) (ev Event, fresh bool, err error) {
	switch {
	case m.State == Paused:
		return m.enter(now, Progressing, m.Step, withNote("resumed by hand", note), ByHand, nil), false, nil
	case m.State == Holding && m.Failed:
		m.StepStarted = time.Time{}
		return m.enter(now, Progressing, m.Step, withNote(fmt.Sprintf("step %d restarted by hand with fresh counts", m.Step+1), note), ByHand, nil), true, nil
	case m.State == RolledBack:
		m.StepStarted = time.Time{}
		return m.enter(now, Pending, 0, withNote("restarted by hand at step 1", note), ByHand, nil), true, nil
	}
	return Event{}, false, fmt.Errorf("%w: the rollout is %s; resume applies to a paused, failed or rolled-back rollout", ErrNotApplicable, m.State)
}

// Promote sends all traffic to new now.
func (m *Machine) Promote(now time.Time, note string) (Event, error) {
	if m.State == Promoted {
		return Event{}, fmt.Errorf("%w: the rollout is promoted already", ErrNotApplicable)
	}
	return m.enter(now, Promoted, len(m.cfg.Steps)-1, withNote("promoted by hand", note), ByHand, nil), nil
}

// Rollback sends all traffic back to old now.
func (m *Machine) Rollback(now time.Time, note string) (Event, error) {
	if m.State == RolledBack {
		return Event{}, fmt.Errorf("%w: the rollout is rolled back already", ErrNotApplicable)
	}
	return m.enter(now, RolledBack, m.Step, withNote("rolled back by hand", note), ByHand, nil), nil
}

func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + ": " + note
}

// fmtPercent formats a percent such as 2 or 0.5 as "2%" or "0.5%".
func fmtPercent(p float64) string { return diff.FormatRate(p / 100) }
