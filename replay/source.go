package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// Filter selects recorded calls. Empty fields match everything.
type Filter struct {
	Route  string
	Tenant string
	Side   string // the side that served the call: old, new or upstream
	// Status is 0 for any call, 1 to 9 for a class, or a status (as
	// store.Query).
	Status int
	Since  time.Time
	Chain  chain.TraceID // zero: any chain
	// Limit keeps the newest Limit matching calls (still replayed oldest
	// first); 0 keeps all.
	Limit int
}

// query is the store query of f, without its paging.
func (f *Filter) query() store.Query {
	return store.Query{Route: f.Route, Tenant: f.Tenant, Status: f.Status, Since: f.Since}
}

// Match reports whether a call passes f. Shadow copies never pass: replay
// sends the calls that clients made.
func (f *Filter) Match(r *store.Record) bool {
	if r.Shadow {
		return false
	}
	if f.Route != "" && r.Route != f.Route || f.Tenant != "" && string(r.Tenant) != f.Tenant || f.Side != "" && r.Side != f.Side {
		return false
	}
	if !f.Since.IsZero() && r.Start.Before(f.Since) {
		return false
	}
	if !f.Chain.IsZero() && r.Chain != f.Chain {
		return false
	}
	switch {
	case f.Status == 0:
		return true
	case f.Status < 10:
		return r.Status/100 == f.Status || f.Status == 5 && r.Status == 0 && r.Error != ""
	}
	return r.Status == f.Status
}

// Source yields recorded calls oldest first.
type Source interface {
	// Total is the number of calls Walk yields, as counted when the source
	// was opened.
	Total() int
	// Walk calls fn with each call, oldest first, until fn returns an
	// error or ctx is done. fn owns the record.
	Walk(ctx context.Context, fn func(*store.Record) error) error
}

// Pager reads recorded calls newest first, a page at a time:
// *store.Bolt, *store.Redis and AdminClient.
type Pager interface {
	Records(q store.Query) (store.Page, error)
}

// Chainer reads the calls of one chain, oldest first.
type Chainer interface {
	Chain(id chain.TraceID) ([]*store.Record, error)
}

// PageSize is the page a paged source reads: small enough that a page of
// records with bodies at the recorder's cap stays a few megabytes.
const PageSize = 100

// paged is the Source of a Pager. Opening it walks the pages newest first
// once, keeping only where each page starts; Walk then reads them again
// from the oldest, reversing each.
type paged struct {
	p      Pager
	f      Filter
	starts []string // the cursor of each page, newest page first
	floor  store.ID // with a limit: the oldest call kept
	total  int
}

// OpenPaged counts the calls of p that f selects and returns a Source of
// them. A chain filter reads the chain instead, when p is also a Chainer.
func OpenPaged(p Pager, f Filter) (Source, error) {
	if !f.Chain.IsZero() {
		if c, ok := p.(Chainer); ok {
			return openChain(c, f)
		}
	}
	s := &paged{p: p, f: f}
	q := f.query()
	q.Limit = PageSize
	cursor := ""
	for first := true; ; first = false {
		q.Cursor = cursor
		page, err := p.Records(q)
		if err != nil {
			return nil, err
		}
		if first {
			if len(page.Records) == 0 {
				return s, nil
			}
			// The first page is bounded by the newest call seen now, so
			// calls recorded while the replay runs do not shift the pages.
			cursor = after(page.Records[0].ID)
			q.Cursor = cursor
		}
		s.starts = append(s.starts, cursor)
		for _, r := range page.Records {
			if !f.Match(r) {
				continue
			}
			s.total++
			if f.Limit > 0 && s.total == f.Limit {
				s.floor = r.ID
				return s, nil
			}
		}
		if page.Next == "" {
			return s, nil
		}
		cursor = page.Next
	}
}

// after returns the cursor of the page that starts with id: the ID just
// above it.
func after(id store.ID) string {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id.String()
}

func (s *paged) Total() int { return s.total }

func (s *paged) Walk(ctx context.Context, fn func(*store.Record) error) error {
	q := s.f.query()
	q.Limit = PageSize
	for i := len(s.starts) - 1; i >= 0; i-- {
		q.Cursor = s.starts[i]
		page, err := s.p.Records(q)
		if err != nil {
			return err
		}
		// A page ends where the next older one starts; reading it again
		// after a prune could run past that.
		lower := s.floor
		if i+1 < len(s.starts) {
			if id, err := store.ParseID(s.starts[i+1]); err == nil && bytesLess(lower, id) {
				lower = id
			}
		}
		for j := len(page.Records) - 1; j >= 0; j-- {
			r := page.Records[j]
			if bytesLess(r.ID, lower) || !s.f.Match(r) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func bytesLess(a, b store.ID) bool { return strings.Compare(string(a[:]), string(b[:])) < 0 }

// chained is the Source of one chain.
type chained struct{ recs []*store.Record }

func openChain(c Chainer, f Filter) (Source, error) {
	recs, err := c.Chain(f.Chain)
	if errors.Is(err, store.ErrNotFound) {
		return &chained{}, nil
	}
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(r *store.Record) bool { return !f.Match(r) })
	if f.Limit > 0 && len(recs) > f.Limit {
		recs = recs[len(recs)-f.Limit:]
	}
	return &chained{recs: recs}, nil
}

func (c *chained) Total() int { return len(c.recs) }

func (c *chained) Walk(ctx context.Context, fn func(*store.Record) error) error {
	for _, r := range c.recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// describe names a record in errors and logs.
func describe(r *store.Record) string {
	return fmt.Sprintf("%s %s (record %s)", r.Method, r.URI, r.ID)
}
