package rollout

import "time"

// memberFeed is one cohort member's evidence: its own feed, whose counts
// are the member's alone and which also counts toward the cohort's step
// (Feed.unit), so the gate can read each member's figures besides the
// cohort's.
type memberFeed struct {
	name   string
	feed   *Feed
	counts *stepCounts // the member's figures in the cohort's current step
	step   any         // which step of the cohort counts belongs to
}

// syncMembers gives a cohort's rollout one member feed per member of its
// spec, keeping the feeds (and figures) of members it had; a lone route's
// rollout has none. Called with c.mu held.
func (r *routeRollout) syncMembers() {
	if len(r.spec.Members) < 2 {
		r.members = nil
		return
	}
	had := map[string]*memberFeed{}
	for _, mf := range r.members {
		had[mf.name] = mf
	}
	r.members = r.members[:0:0]
	for _, name := range r.spec.Members {
		mf := had[name]
		if mf == nil {
			mf = &memberFeed{name: name, feed: &Feed{unit: r.feed}}
		}
		r.members = append(r.members, mf)
	}
	r.followMembers()
}

// followMembers points each member's feed at its figures for the cohort's
// current step, fresh ones when the step changed, and at none once the
// rollout has ended. Called with c.mu held.
func (r *routeRollout) followMembers() {
	var step any = r.counts // without a store, a step has one counts
	if r.delta != nil {
		step = r.stepRev // with one, counts are read back every round
	}
	for _, mf := range r.members {
		if r.m.Final() {
			mf.feed.cur.Store(nil)
			continue
		}
		if mf.counts == nil || mf.step != step {
			mf.counts, mf.step = newStepCounts(mf.name, r.spec.Noise), step
		}
		mf.feed.cur.Store(mf.counts)
	}
}

// gateStats returns what the gate decides on: the cohort's figures, every
// member's pooled, unless one member's own figures already fail the gate
// — then those, and member names it. So a regression confined to one
// member fails the step even while the others dilute it in the pool. A
// member's figures are this replica's; the pooled ones every replica's.
// Called with c.mu held.
func (r *routeRollout) gateStats(now time.Time) (st Stats, member string) {
	for _, mf := range r.members {
		ms := r.statsOf(mf.counts)
		ms.Elapsed = now.Sub(r.m.StepStarted)
		if Evaluate(r.m.Config(), &ms).Outcome == Fail {
			return ms, mf.name
		}
	}
	return r.stats(), ""
}

// blame names, in a transition the gate made on member's own figures,
// the member whose figures failed.
func blame(ev *Event, m *Machine, member string) {
	if member == "" {
		return
	}
	ev.Reason = "member " + member + ": " + ev.Reason
	m.Reason = ev.Reason
}
