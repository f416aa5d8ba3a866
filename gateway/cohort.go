package gateway

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/router"
)

// cohortMetrics counts what cohorts and entry tagging do. Cohort names
// come from the config, so the label's cardinality is bounded.
type cohortMetrics struct {
	mu       sync.Mutex
	followed map[string]*atomic.Uint64 // by cohort: decisions taken from baggage

	ignored [2]atomic.Uint64 // baggage ignored: malformed, oversized
	dropped atomic.Uint64    // incoming baggage members left out at the W3C limits
	tagged  atomic.Uint64    // requests tagged at the entry (environments.tenants)
}

// cohortFollowed returns the counter of a cohort's decisions taken from
// baggage.
func (m *cohortMetrics) cohortFollowed(cohort string) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.followed == nil {
		m.followed = map[string]*atomic.Uint64{}
	}
	c := m.followed[cohort]
	if c == nil {
		c = new(atomic.Uint64)
		m.followed[cohort] = c
	}
	return c
}

// count counts a cohort route's decision: whether it followed the
// chain's baggage, and baggage that was ignored.
func (m *cohortMetrics) count(snap *snapshot, d *router.Decision) {
	switch d.Baggage {
	case router.BaggageMalformed:
		m.ignored[0].Add(1)
	case router.BaggageOversized:
		m.ignored[1].Add(1)
	}
	if d.Reason == router.ReasonBaggage {
		snap.cohortFollowed[d.Cohort].Add(1)
	}
}

func (m *cohortMetrics) appendTo(b []byte) []byte {
	b = help(b, "cutover_cohort_followed_total", "counter", "Decisions of cohort routes taken from the side the chain's baggage carries, by cohort.")
	// The lock only guards the map, which a configuration compile adds
	// to; the hot path counts through counters it already holds.
	m.mu.Lock()
	for _, n := range slices.Sorted(maps.Keys(m.followed)) {
		b = fmt.Appendf(b, "cutover_cohort_followed_total{cohort=%q} %d\n", n, m.followed[n].Load())
	}
	m.mu.Unlock()
	b = help(b, "cutover_baggage_ignored_total", "counter", "Baggage headers on cohort routes ignored for the decision, by reason.")
	b = fmt.Appendf(b, "cutover_baggage_ignored_total{reason=\"malformed\"} %d\n", m.ignored[0].Load())
	b = fmt.Appendf(b, "cutover_baggage_ignored_total{reason=\"oversized\"} %d\n", m.ignored[1].Load())
	b = help(b, "cutover_baggage_members_dropped_total", "counter", "Incoming baggage members not carried on, to keep within the W3C limits or because the header was invalid.")
	b = fmt.Appendf(b, "cutover_baggage_members_dropped_total %d\n", m.dropped.Load())
	b = help(b, "cutover_environment_tagged_total", "counter", "Requests tagged at the entry by environments.tenants.")
	b = fmt.Appendf(b, "cutover_environment_tagged_total %d\n", m.tagged.Load())
	return b
}

// headerBaggage is the W3C baggage header.
const headerBaggage = "baggage"

// noBaggage is the baggage of a request without one: empty but not nil,
// so the router does not look for the header again.
var noBaggage = []byte{}

// requestBaggage returns the W3C baggage list a request carries, from the
// header scan: its one baggage line, or its lines joined by commas into
// buf, as W3C baggage reads several lines as one list. The result stays
// valid while hygiene rewrites the headers.
func requestBaggage(h *fasthttp.RequestHeader, s *headerScan, buf []byte) (baggage, grown []byte) {
	switch {
	case !s.has(wBaggage):
		return noBaggage, buf
	case !s.hasRepeated(wBaggage):
		return s.values[wBaggage], buf
	}
	buf = buf[:0]
	for k, v := range h.AllInOrder() {
		if string(k) == string(watchedCanonical[wBaggage]) {
			if len(buf) > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, v...)
		}
	}
	return buf, buf
}

// tagCohort writes what the hop's decision sends upstream beyond the
// chain: the environment tag of a tenant tagged at the entry, and on a
// cohort route the serving side in baggage (cutover.cohort.<name>=side
// first, then the members of in, the request's baggage, within the W3C
// limits; it replaces every baggage line received). A request whose one
// baggage line already carries the side, valid and within the limits, goes
// on as it came: the usual inner hop of a chain costs no rewrite. scratch
// is reused and the grown buffer returned.
func tagCohort(h *fasthttp.RequestHeader, s *headerScan, snap *snapshot, d *router.Decision, in []byte, m *cohortMetrics, scratch []byte) []byte {
	if d.EnvTagged {
		h.Set(snap.cfg.Environments.Header, d.Env)
		m.tagged.Add(1)
	}
	if d.Cohort == "" || d.Side == router.SideUpstream ||
		d.Baggage == router.BaggageFound && d.BaggageSide == d.Side && !s.hasRepeated(wBaggage) {
		return scratch
	}
	var dropped int
	scratch, dropped = router.AppendBaggage(scratch[:0], in, d.Cohort, d.Side)
	if dropped > 0 {
		m.dropped.Add(uint64(dropped))
	}
	if s.hasRepeated(wBaggage) {
		s.del(h, wBaggage)
	}
	h.SetCanonical(watchedCanonical[wBaggage], scratch)
	return scratch
}

// setSideHeader writes debug_headers' X-Cutover-Side: the side, and on a
// cohort route the cohort and the rule that decided
// ("new; cohort=checkout; from=baggage").
func setSideHeader(resp *fasthttp.Response, cl call) {
	if cl.cohort == "" {
		resp.Header.Set(HeaderSide, cl.side.String())
		return
	}
	var buf [160]byte
	b := append(buf[:0], cl.side.String()...)
	b = append(b, "; cohort="...)
	b = append(b, cl.cohort...)
	b = append(b, "; from="...)
	b = append(b, cl.reason.String()...)
	resp.Header.SetBytesV(HeaderSide, b)
}
