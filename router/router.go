// Package router compiles configured routes into an immutable Table,
// matches requests against it, and decides which side of a migration route
// serves each request.
//
// Matching is a linear scan over routes sorted most specific first, so the
// first hit wins: routes with a host before those without, then an exact
// path before a path prefix, a longer prefix before a shorter one, more
// required headers before fewer, and listed methods before any method; ties
// keep file order. A scan is faster than a trie for the tens of routes a
// gateway in front of one migration carries, and it allocates nothing.
//
// The gray decision (Decide) reads the tenant from the route's sources, then
// applies gray.exclude, gray.tenants and the sticky bucket, then the
// environment overlay. Buckets are xxhash64(route ":" tenant) mod 10000
// (xxhash64(cohort ":" tenant) on a route of a gray.cohort), a
// fixed, well-known function, so users can compute a tenant's side
// themselves; raising the percent only adds buckets, so a tenant never
// flips back to old while the percent rises.
//
// The router does no I/O and keeps no clocks: a Table never changes after
// New, and a reload or a rollout step compiles a new one (WithPercent).
package router

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/cutover/cutover/configs"
)

// ErrNoRoute is returned by callers that need an error when Match finds nothing.
var ErrNoRoute = errors.New("router: no route matches")

// Headers is what Match reads request headers through;
// *fasthttp.RequestHeader satisfies it.
type Headers interface {
	Peek(key string) []byte
}

// Route is one compiled route. It is read-only after New.
type Route struct {
	// Name is the route's configured name.
	Name string
	// Index is the route's position in the config file, stable for one
	// Table, so callers can keep per-route state in slices.
	Index int
	// Upstream is the service of a plain route; Old and New are the two
	// services of a migration route (Upstream is then empty).
	Upstream, Old, New string

	host        []byte // lower case, no port
	path        []byte
	exact       bool
	methods     [][]byte
	headers     []headerMatch
	specificity [5]int
	tenant      []tenantSource
	gray        *gray
}

type headerMatch struct {
	name  string
	value []byte
}

// Table is an immutable, compiled set of routes, safe for concurrent use.
type Table struct {
	routes     []*Route // most specific first
	byName     map[string]*Route
	inFile     []*Route
	envHeader  string
	overlays   map[string]overlay
	tenantTags map[string][]byte // environments.tenants inverted
}

// New compiles routes and environment overlays. The configs package has
// already validated them.
func New(routes []*configs.Route, env configs.Environments) *Table {
	t := &Table{
		byName:     make(map[string]*Route, len(routes)),
		envHeader:  env.Header,
		overlays:   compileOverlays(env),
		tenantTags: compileTenantTags(env),
	}
	for i, rc := range routes {
		r := &Route{
			Name:     rc.Name,
			Index:    i,
			Upstream: rc.Upstream,
			Old:      rc.Old,
			New:      rc.New,
			host:     []byte(strings.ToLower(rc.Match.Host)),
			tenant:   compileTenant(rc.Tenant),
			gray:     compileGray(rc),
		}
		switch {
		case rc.Match.Path != "":
			r.path, r.exact = []byte(rc.Match.Path), true
		case rc.Match.PathPrefix != "":
			p := rc.Match.PathPrefix
			if len(p) > 1 {
				p = strings.TrimSuffix(p, "/")
			}
			r.path = []byte(p)
		}
		for _, m := range rc.Match.Methods {
			r.methods = append(r.methods, []byte(strings.ToUpper(m)))
		}
		for _, name := range slices.Sorted(maps.Keys(rc.Match.Headers)) {
			r.headers = append(r.headers, headerMatch{name: name, value: []byte(rc.Match.Headers[name])})
		}
		pathKind := 0
		if r.exact {
			pathKind = 2
		} else if len(r.path) > 0 {
			pathKind = 1
		}
		r.specificity = [5]int{boolInt(len(r.host) > 0), pathKind, len(r.path), len(r.headers), boolInt(len(r.methods) > 0)}
		t.routes = append(t.routes, r)
		t.inFile = append(t.inFile, r)
		t.byName[r.Name] = r
	}
	slices.SortStableFunc(t.routes, func(a, b *Route) int {
		for i := range a.specificity {
			if a.specificity[i] != b.specificity[i] {
				return b.specificity[i] - a.specificity[i]
			}
		}
		return 0
	})
	return t
}

// Match returns the most specific route for a request, or nil. host is the
// Host header (a port is ignored), path the normalised, decoded path.
// It allocates nothing.
func (t *Table) Match(host, method, path []byte, h Headers) *Route {
	host = stripPort(host)
	for _, r := range t.routes {
		if r.matches(host, method, path, h) {
			return r
		}
	}
	return nil
}

func (r *Route) matches(host, method, path []byte, h Headers) bool {
	if len(r.host) > 0 && !bytes.EqualFold(r.host, host) {
		return false
	}
	if r.exact {
		if !bytes.Equal(r.path, path) {
			return false
		}
	} else if len(r.path) > 1 && !hasPathPrefix(path, r.path) {
		return false
	}
	if len(r.methods) > 0 {
		found := false
		for _, m := range r.methods {
			if bytes.Equal(m, method) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for i := range r.headers {
		if !bytes.Equal(h.Peek(r.headers[i].name), r.headers[i].value) {
			return false
		}
	}
	return true
}

// hasPathPrefix reports whether path is prefix or lies below it, so that
// "/api/orders" matches "/api/orders/7" but not "/api/ordersX".
func hasPathPrefix(path, prefix []byte) bool {
	return bytes.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

func stripPort(host []byte) []byte {
	i := bytes.LastIndexByte(host, ':')
	if i < 0 || bytes.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	return host[:i]
}

// Routes returns the routes in file order.
func (t *Table) Routes() []*Route { return t.inFile }

// Route returns the route named name, or nil.
func (t *Table) Route(name string) *Route { return t.byName[name] }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
