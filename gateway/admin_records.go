package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/store"
)

// serveRecords answers GET /api/records: recorded calls, newest first,
// filtered by route, tenant, status (502, 5xx or 5) and since (a duration
// back from now, or an RFC 3339 time), paged by limit and cursor; shadow
// (true or false) keeps only shadow copies or only serving calls, and
// chain the calls of one chain, on one page. A page may hold fewer calls
// than limit when shadow filters some out; next still continues it.
func (g *Gateway) serveRecords(w http.ResponseWriter, r *http.Request) {
	if g.records == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "recording is off: no store is open"})
		return
	}
	q, err := parseRecordQuery(r, time.Now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	keep, trace, err := parseRecordFilters(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	var page store.Page
	if trace.IsZero() {
		page, err = g.records.Records(q)
	} else {
		page, err = chainPage(g.records, trace, &q)
	}
	switch {
	case errors.Is(err, store.ErrBadQuery), errors.Is(err, store.ErrBadCursor):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	case err != nil:
		g.log.Error("reading records failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	page.Records = slices.DeleteFunc(page.Records, func(rec *store.Record) bool { return !keep(rec) })
	if page.Records == nil {
		page.Records = []*store.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": page.Records, "next": page.Next})
}

// parseRecordFilters reads the filters of GET /api/records that the store
// does not index: shadow and chain.
func parseRecordFilters(r *http.Request) (keep func(*store.Record) bool, trace chain.TraceID, err error) {
	keep = func(*store.Record) bool { return true }
	v := r.URL.Query()
	if s := v.Get("shadow"); s != "" {
		want, err := strconv.ParseBool(s)
		if err != nil {
			return nil, trace, fmt.Errorf("shadow %q: want true or false", s)
		}
		keep = func(rec *store.Record) bool { return rec.Shadow == want }
	}
	if s := v.Get("chain"); s != "" {
		var ok bool
		if trace, ok = chain.ParseChainID([]byte(s)); !ok {
			return nil, trace, fmt.Errorf("chain %q: want a chain ID (32 hex digits)", s)
		}
	}
	return keep, trace, nil
}

// chainPage returns the calls of one chain that q selects, newest first,
// on one page.
func chainPage(rs Store, trace chain.TraceID, q *store.Query) (store.Page, error) {
	recs, err := rs.Chain(trace)
	if errors.Is(err, store.ErrNotFound) {
		return store.Page{}, nil
	}
	if err != nil {
		return store.Page{}, err
	}
	var page store.Page
	for i := len(recs) - 1; i >= 0; i-- {
		rec := recs[i]
		switch {
		case q.Route != "" && rec.Route != q.Route,
			q.Tenant != "" && string(rec.Tenant) != q.Tenant,
			!q.Since.IsZero() && rec.Start.Before(q.Since),
			q.Status >= 100 && rec.Status != q.Status,
			q.Status > 0 && q.Status < 10 && rec.Status/100 != q.Status && (q.Status != 5 || !rec.Failed()):
			continue
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}

func parseRecordQuery(r *http.Request, now time.Time) (store.Query, error) {
	v := r.URL.Query()
	q := store.Query{Route: v.Get("route"), Tenant: v.Get("tenant"), Cursor: v.Get("cursor")}
	var err error
	if s := v.Get("status"); s != "" {
		if q.Status, err = ParseStatusFilter(s); err != nil {
			return q, fmt.Errorf("status %w", err)
		}
	}
	if s := v.Get("since"); s != "" {
		if q.Since, err = ParseSince(s, now); err != nil {
			return q, fmt.Errorf("since %w", err)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return q, fmt.Errorf("limit %q: want 1 to %d", s, store.MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// ParseStatusFilter reads a status filter of recorded calls, as
// store.Query.Status holds it: a status (502), a class (5xx) or a class
// digit (5). The admin API and the command line read it alike.
func ParseStatusFilter(s string) (int, error) {
	class := strings.TrimSuffix(strings.ToLower(s), "xx")
	n, err := strconv.Atoi(class)
	if err != nil || n < 1 || n > 999 || (class != s && n > 9) || (n > 9 && n < 100) {
		return 0, fmt.Errorf("%q: want a status (502), a class (5xx) or a class digit (5)", s)
	}
	return n, nil
}

// ParseSince reads the start of a time filter: a duration back from now
// (15m) or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a duration back from now (15m) or an RFC 3339 time", s)
}

// serveRecord answers GET /api/records/ID: one call with its bodies.
func (g *Gateway) serveRecord(w http.ResponseWriter, r *http.Request) {
	if g.records == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "recording is off: no store is open"})
		return
	}
	id, err := store.ParseID(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	rec, err := g.records.Get(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no record " + id.String()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

// serveChain answers GET /api/chains/ID: every recorded call of a chain as
// a tree by parent span.
func (g *Gateway) serveChain(w http.ResponseWriter, r *http.Request) {
	if g.records == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "recording is off: no store is open"})
		return
	}
	id, ok := chain.ParseChainID([]byte(r.PathValue("id")))
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("%q is not a chain ID (32 hex digits)", r.PathValue("id"))})
		return
	}
	recs, err := g.records.Chain(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	if len(recs) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no recorded calls for chain " + id.String() + " (not sampled, not yet written, or past retention)"})
		return
	}
	writeJSON(w, http.StatusOK, chaintree.Tree{ID: id, Roots: chaintree.Build(recs)})
}
