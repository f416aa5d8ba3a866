package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/chaintree"
	"github.com/cutover/cutover/store"
)

// serveRecords answers GET /api/records: recorded calls, newest first,
// filtered by route, tenant, status (502, 5xx or 5) and since (a duration
// back from now, or an RFC 3339 time), paged by limit and cursor.
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
	page, err := g.records.Records(q)
	switch {
	case errors.Is(err, store.ErrBadQuery), errors.Is(err, store.ErrBadCursor):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	case err != nil:
		g.log.Error("reading records failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	if page.Records == nil {
		page.Records = []*store.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": page.Records, "next": page.Next})
}

func parseRecordQuery(r *http.Request, now time.Time) (store.Query, error) {
	v := r.URL.Query()
	q := store.Query{Route: v.Get("route"), Tenant: v.Get("tenant"), Cursor: v.Get("cursor")}
	if s := v.Get("status"); s != "" {
		class := strings.TrimSuffix(strings.ToLower(s), "xx")
		n, err := strconv.Atoi(class)
		if err != nil || n < 1 || (class != s && n > 9) {
			return q, fmt.Errorf("status %q: want a status (502), a class (5xx) or a class digit (5)", s)
		}
		q.Status = n
	}
	if s := v.Get("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			q.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			q.Since = t
		} else {
			return q, fmt.Errorf("since %q: want a duration back from now (15m) or an RFC 3339 time", s)
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
