package replay

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// AdminPager reads recorded calls from a running gateway's admin API,
// GET /api/records with shadow=false, bodies included. Get decodes the
// JSON answer of GET path (the command line's admin client).
type AdminPager struct {
	Get func(path string, v any) error
}

type recordsPage struct {
	Records []*store.Record `json:"records"`
	Next    string          `json:"next"`
}

// Records implements Pager.
func (a AdminPager) Records(q store.Query) (store.Page, error) {
	v := url.Values{"shadow": {"false"}}
	if q.Route != "" {
		v.Set("route", q.Route)
	}
	if q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	if q.Status != 0 {
		v.Set("status", strconv.Itoa(q.Status))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	var p recordsPage
	if err := a.Get("/api/records?"+v.Encode(), &p); err != nil {
		return store.Page{}, err
	}
	return store.Page{Records: p.Records, Next: p.Next}, nil
}

// Chain implements Chainer: the serving calls of one chain with their
// bodies.
func (a AdminPager) Chain(id chain.TraceID) ([]*store.Record, error) {
	var p recordsPage
	err := a.Get("/api/records?"+url.Values{"chain": {id.String()}, "shadow": {"false"}}.Encode(), &p)
	// The API lists newest first.
	slices.Reverse(p.Records)
	return p.Records, err
}
