// Package chaintree arranges one chain's recorded calls into a tree by
// parent span, and gives that tree its two forms: the JSON of the admin
// API's GET /api/chains/ID (Tree), and the indented text of
// `cutover chain` and the demo (Print).
package chaintree

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/store"
)

// Node is one call of a chain and the calls it made.
type Node struct {
	Record   *store.Record
	Children []*Node
}

// Build arranges one chain's calls by parent span. A root is a call whose
// parent is zero, whose parent span is not among recs (a caller that was
// not recorded), or that sits on a cycle of parents. Roots and children
// are ordered by start time, then ID. A span recorded twice (a call and
// its shadow copy) gets its children under the first one to start.
func Build(recs []*store.Record) []*Node {
	nodes := make([]*Node, len(recs))
	for i, r := range recs {
		nodes[i] = &Node{Record: r}
	}
	slices.SortStableFunc(nodes, byStart)
	bySpan := make(map[chain.SpanID]*Node, len(nodes))
	for _, n := range nodes {
		if _, ok := bySpan[n.Record.Span]; !ok && !n.Record.Span.IsZero() {
			bySpan[n.Record.Span] = n
		}
	}
	var roots []*Node
	for _, n := range nodes {
		parent := bySpan[n.Record.Parent]
		if n.Record.Parent.IsZero() || parent == nil || parent == n {
			roots = append(roots, n)
			continue
		}
		parent.Children = append(parent.Children, n)
	}
	// Calls whose parents form a cycle are reachable from no root; each
	// such cycle is cut at its earliest call, which becomes a root.
	seen := make(map[*Node]bool, len(nodes))
	for _, r := range roots {
		mark(r, seen)
	}
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		if p := bySpan[n.Record.Parent]; p != nil {
			p.Children = slices.DeleteFunc(p.Children, func(c *Node) bool { return c == n })
		}
		roots = append(roots, n)
		mark(n, seen)
	}
	slices.SortStableFunc(roots, byStart)
	return roots
}

func byStart(a, b *Node) int {
	if c := a.Record.Start.Compare(b.Record.Start); c != 0 {
		return c
	}
	return bytes.Compare(a.Record.ID[:], b.Record.ID[:])
}

func mark(n *Node, seen map[*Node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	for _, c := range n.Children {
		mark(c, seen)
	}
}

// walk calls fn for every node, parents before children.
func walk(nodes []*Node, fn func(*Node)) {
	for _, n := range nodes {
		fn(n)
		walk(n.Children, fn)
	}
}

// Tree is one chain's calls as a tree, in the form of the admin API's
// GET /api/chains/ID:
//
//	{"chain_id": "…", "calls": 3, "errors": 1, "duration_ms": 14.2,
//	 "roots": [{"id": "…", "chain_id": "…", "span_id": "…", "parent_span_id": "",
//	            "route": "orders", "tenant": "1001", "side": "old",
//	            "target": "127.0.0.1:9001", "shadow": false, "method": "GET",
//	            "uri": "/api/orders/7", "start": "…", "latency_ms": 12.3,
//	            "error": "", "status": 200, "offset_ms": 0, "children": […]}]}
//
// Each call is the record's store.CallJSON (with "cohort" and "decision"
// on a cohort route) plus its status, its offset and its children.
// duration_ms runs from the first call's start to the last call's end;
// offset_ms is a call's start after the first call's. Bodies and headers
// are left out: GET /api/records has them.
type Tree struct {
	ID    chain.TraceID
	Roots []*Node
}

type chainJSON struct {
	ChainID    string      `json:"chain_id"`
	Calls      int         `json:"calls"`
	Errors     int         `json:"errors"`
	DurationMS float64     `json:"duration_ms"`
	Roots      []*callJSON `json:"roots"`
}

// callJSON is one call of the tree: the record's call, its status, and
// the calls made under it.
type callJSON struct {
	store.CallJSON
	Status   int         `json:"status"`
	OffsetMS float64     `json:"offset_ms"`
	Children []*callJSON `json:"children"`
}

// span returns the first start and the last end among nodes.
func span(nodes []*Node) (first, last time.Time) {
	walk(nodes, func(n *Node) {
		r := n.Record
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if end := r.Start.Add(r.Latency); end.After(last) {
			last = end
		}
	})
	return first, last
}

// MarshalJSON returns the API form of t.
func (t Tree) MarshalJSON() ([]byte, error) {
	first, last := span(t.Roots)
	out := chainJSON{ChainID: t.ID.String(), DurationMS: store.Millis(last.Sub(first))}
	walk(t.Roots, func(n *Node) {
		out.Calls++
		if n.Record.Failed() {
			out.Errors++
		}
	})
	out.Roots = callViews(t.Roots, first)
	return json.Marshal(out)
}

func callViews(nodes []*Node, first time.Time) []*callJSON {
	views := make([]*callJSON, 0, len(nodes))
	for _, n := range nodes {
		r := n.Record
		views = append(views, &callJSON{
			CallJSON: r.Call(),
			Status:   r.Status,
			OffsetMS: store.Millis(r.Start.Sub(first)),
			Children: callViews(n.Children, first),
		})
	}
	return views
}

// UnmarshalJSON reads the API form back, so a client such as
// `cutover chain ID` can Print what the admin API returned. The records
// carry the summary fields only. Each call is read by store.Record's
// UnmarshalJSON, the one decoder of a record's API form; only the status,
// which a call carries at its top, and the children are read here.
func (t *Tree) UnmarshalJSON(data []byte) error {
	var in struct {
		ChainID string            `json:"chain_id"`
		Roots   []json.RawMessage `json:"roots"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	var out Tree
	if err := store.DecodeHexField("chain_id", in.ChainID, out.ID[:]); err != nil {
		return err
	}
	var err error
	out.Roots, err = callNodes(in.Roots)
	if err != nil {
		return err
	}
	*t = out
	return nil
}

func callNodes(calls []json.RawMessage) ([]*Node, error) {
	nodes := make([]*Node, 0, len(calls))
	for _, data := range calls {
		r := new(store.Record)
		if err := r.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		var call struct {
			Status   int               `json:"status"`
			Children []json.RawMessage `json:"children"`
		}
		if err := json.Unmarshal(data, &call); err != nil {
			return nil, err
		}
		r.Status = call.Status
		n := &Node{Record: r}
		var err error
		if n.Children, err = callNodes(call.Children); err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
