package router

import (
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/cutover/cutover/configs"
)

// Buckets is the number of sticky buckets: a percent with two decimals
// selects a whole number of them.
const Buckets = 10000

// Side is which service of a route serves a request.
type Side uint8

// Sides. A plain route is served by its upstream; a migration route by old
// or new.
const (
	SideUpstream Side = iota
	SideOld
	SideNew
)

var sideNames = [...]string{"upstream", "old", "new"}

// String returns "upstream", "old" or "new".
func (s Side) String() string { return sideNames[s] }

// Reason says which rule made a decision.
type Reason uint8

// Reasons, in the order the rules are tried.
const (
	ReasonPlain    Reason = iota // a plain route has one upstream
	ReasonNoGray                 // a migration route without gray rules: old
	ReasonExcluded               // the tenant is in gray.exclude: old
	ReasonListed                 // the tenant is in gray.tenants: new
	ReasonBucket                 // the tenant's sticky bucket
	ReasonChain                  // no tenant: the chain ID's sticky bucket
	ReasonBaggage                // no tenant on a cohort route: the side the chain's baggage carries
)

var reasonNames = [...]string{"plain", "no_gray", "excluded", "listed", "bucket", "chain_bucket", "baggage"}

// String returns the reason's name as logs and the API show it.
func (r Reason) String() string { return reasonNames[r] }

// gray is a migration route's compiled split.
type gray struct {
	tenants map[string]struct{}
	exclude map[string]struct{}
	basis   int    // percent × 100: buckets below it are served by new
	prefix  []byte // "route:" (or "cohort:") hashed before the tenant
	cohort  string // gray.cohort, "" for none
}

// Request is what a gray decision reads of a request. The gateway fills it
// from the fasthttp request without copying.
type Request struct {
	// Headers gives header values (tenant header and cookie sources, the
	// environment tag).
	Headers Headers
	// Path is the normalised path (path_segment source).
	Path []byte
	// URI is the raw request URI, whose query string the query source reads.
	URI []byte
	// Body and ContentType feed the json source; Body may be nil.
	Body, ContentType []byte
	// ChainID is the chain's 32-hex trace ID, bucketed when no tenant is
	// found so that every hop of a chain gets the same side.
	ChainID []byte
	// Baggage is the request's W3C baggage list, read on cohort routes;
	// nil: Decide peeks the baggage header of Headers. (The gateway hands
	// its header scan's value, empty but not nil when there is none.)
	Baggage []byte
	// Scratch is working memory Decide may grow (decoded query values);
	// keep it between calls to avoid allocating.
	Scratch []byte
}

// Decision is the outcome of Decide. Tenant may alias the request's memory
// or Request.Scratch: copy it before the request ends.
type Decision struct {
	// Side is the side that serves; Service its service after any overlay.
	Side    Side
	Service string
	// Tenant and Source say which tenant was found, and where.
	Tenant []byte
	Source Source
	// Reason is the rule that chose Side; Bucket is the sticky bucket
	// (0–9999) when one was computed, else -1.
	Reason Reason
	Bucket int
	// Env is the request's environment tag when it names an overlay, else
	// "" (Service is replaced only when the overlay names it). EnvUnknown is
	// set when the request carried a tag that names no overlay.
	Env        string
	EnvUnknown bool
	// EnvTagged is set when the request came without an environment tag
	// and environments.tenants tagged its tenant with Env: the caller
	// sends the tag upstream.
	EnvTagged bool
	// Cohort is the route's gray.cohort, "" for none. Baggage says what
	// the request's baggage header held for it (cohort routes only), and
	// BaggageSide the side it carried when Baggage is BaggageFound.
	Cohort      string
	Baggage     Baggage
	BaggageSide Side
}

// Decide picks the side and service that serve req on route r, by this
// precedence: gray.exclude (old), gray.tenants (new), then the sticky
// bucket against gray.percent. On a cohort route a request without a
// tenant follows the side its baggage carries for the cohort, and the
// chain ID's bucket otherwise. The environment overlay then replaces the
// chosen service when it names one; a request without a tag takes its
// tenant's environments.tenants tag. It allocates nothing.
func (t *Table) Decide(r *Route, req *Request, d *Decision) {
	tenant, source := extractTenant(r.tenant, req)
	var tag, baggage []byte
	if req.Headers != nil {
		if t.envHeader != "" {
			tag = req.Headers.Peek(t.envHeader)
		}
		if r.gray != nil && r.gray.cohort != "" && req.Baggage == nil {
			baggage = req.Headers.Peek("baggage")
		}
	}
	if req.Baggage != nil {
		baggage = req.Baggage
	}
	t.decide(r, tenant, req.ChainID, tag, baggage, d)
	d.Source = source
}

// Explain decides for a given tenant and environment tag ("" for none)
// without a request: what `cutover bucket` and the admin API print.
func (t *Table) Explain(r *Route, tenant, env string) Decision {
	var d Decision
	t.decide(r, []byte(tenant), nil, []byte(env), nil, &d)
	return d
}

func (t *Table) decide(r *Route, tenant, chainID, tag, baggage []byte, d *Decision) {
	*d = Decision{Tenant: tenant, Bucket: -1}
	switch {
	case r.Upstream != "":
		d.Side, d.Service, d.Reason = SideUpstream, r.Upstream, ReasonPlain
	case r.gray == nil:
		d.Side, d.Service, d.Reason = SideOld, r.Old, ReasonNoGray
	default:
		d.Cohort = r.gray.cohort
		if d.Cohort != "" && len(baggage) > 0 {
			d.BaggageSide, d.Baggage = CohortSide(baggage, d.Cohort)
			if d.Baggage == BaggageFound && len(tenant) == 0 {
				d.Side, d.Reason = d.BaggageSide, ReasonBaggage
				break
			}
		}
		d.Side, d.Reason, d.Bucket = r.gray.decide(tenant, chainID)
	}
	if d.Side == SideOld {
		d.Service = r.Old
	} else if d.Side == SideNew {
		d.Service = r.New
	}
	if len(tag) == 0 && len(tenant) > 0 && len(t.tenantTags) > 0 {
		if et, ok := t.tenantTags[string(tenant)]; ok {
			tag, d.EnvTagged = et, true
		}
	}
	if len(tag) == 0 {
		return
	}
	ov, ok := t.overlays[string(tag)]
	if !ok {
		d.EnvUnknown = true
		return
	}
	d.Env = ov.name
	if repl := ov.services[d.Service]; repl != "" {
		d.Service = repl
	}
}

func (g *gray) decide(tenant, chainID []byte) (Side, Reason, int) {
	if len(tenant) > 0 {
		if _, ok := g.exclude[string(tenant)]; ok {
			return SideOld, ReasonExcluded, -1
		}
		if _, ok := g.tenants[string(tenant)]; ok {
			return SideNew, ReasonListed, -1
		}
		b := bucket(g.prefix, tenant)
		return sideFor(b, g.basis), ReasonBucket, b
	}
	b := bucket(g.prefix, chainID)
	return sideFor(b, g.basis), ReasonChain, b
}

func sideFor(bucket, basis int) Side {
	if bucket < basis {
		return SideNew
	}
	return SideOld
}

// bucket is xxhash64(prefix + key) mod Buckets, hashed in two writes so
// nothing is concatenated on the heap.
func bucket(prefix, key []byte) int {
	var h xxhash.Digest
	h.Reset()
	h.Write(prefix)
	h.Write(key)
	return int(h.Sum64() % Buckets)
}

// Bucket returns a tenant's sticky bucket on a route: xxhash64 (XXH64,
// seed 0) of the route name, a colon and the tenant, mod 10000. The tenant
// is served by new when its bucket is below percent × 100. On a route of a
// gray.cohort, pass the cohort's name instead of the route's: every
// member buckets a tenant alike.
func Bucket(route, tenant string) int {
	return int(xxhash.Sum64String(route+":"+tenant) % Buckets)
}

// Percent returns the route's gray percent in hundredths of a percent
// (0–10000); 0 for routes without gray rules.
func (r *Route) Percent() int {
	if r.gray == nil {
		return 0
	}
	return r.gray.basis
}

// Cohort returns the route's gray.cohort, "" for none.
func (r *Route) Cohort() string {
	if r.gray == nil {
		return ""
	}
	return r.gray.cohort
}

// ListSizes returns the sizes of the route's gray.tenants and gray.exclude.
func (r *Route) ListSizes() (tenants, exclude int) {
	if r.gray == nil {
		return 0, 0
	}
	return len(r.gray.tenants), len(r.gray.exclude)
}

// HasGray reports whether the route splits traffic between old and new.
func (r *Route) HasGray() bool { return r.gray != nil }

// WithPercent returns a copy of the table in which route name serves new
// to basis hundredths of a percent (0–10000) of its tenants; t is left
// unchanged, so a caller swaps the copy in atomically.
func (t *Table) WithPercent(name string, basis int) (*Table, error) {
	old := t.byName[name]
	switch {
	case old == nil:
		return nil, fmt.Errorf("router: no route %q", name)
	case old.gray == nil:
		return nil, fmt.Errorf("router: route %q has no gray rules", name)
	case basis < 0 || basis > Buckets:
		return nil, fmt.Errorf("router: percent basis %d is outside 0–%d", basis, Buckets)
	}
	nt := &Table{byName: make(map[string]*Route, len(t.byName)), envHeader: t.envHeader, overlays: t.overlays, tenantTags: t.tenantTags}
	repl := map[*Route]*Route{}
	for _, r := range t.inFile {
		c := r
		if r == old {
			cp := *r
			g := *r.gray
			g.basis = basis
			cp.gray = &g
			c = &cp
		}
		repl[r] = c
		nt.inFile = append(nt.inFile, c)
		nt.byName[c.Name] = c
	}
	for _, r := range t.routes {
		nt.routes = append(nt.routes, repl[r])
	}
	return nt, nil
}

// overlay is one compiled environment.
type overlay struct {
	name     string
	services map[string]string
}

func compileGray(r *configs.Route) *gray {
	if r.Gray == nil || r.New == "" {
		return nil
	}
	g := &gray{
		tenants: map[string]struct{}{},
		exclude: map[string]struct{}{},
		basis:   r.Gray.Percent.Basis(),
		prefix:  []byte(r.Name + ":"),
		cohort:  r.Gray.Cohort,
	}
	if g.cohort != "" {
		g.prefix = []byte(g.cohort + ":")
	}
	for _, t := range r.Gray.Tenants {
		g.tenants[t] = struct{}{}
	}
	for _, t := range r.Gray.Exclude {
		g.exclude[t] = struct{}{}
	}
	return g
}

// compileTenantTags inverts environments.tenants: tenant → tag.
func compileTenantTags(env configs.Environments) map[string][]byte {
	out := map[string][]byte{}
	for tag, tenants := range env.Tenants {
		for _, t := range tenants {
			out[t] = []byte(tag)
		}
	}
	return out
}

func compileOverlays(env configs.Environments) map[string]overlay {
	out := make(map[string]overlay, len(env.Overlays))
	for tag, services := range env.Overlays {
		out[tag] = overlay{name: tag, services: services}
	}
	return out
}
