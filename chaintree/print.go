package chaintree

import (
	"io"
	"strconv"
	"time"

	"github.com/cutover/cutover/store"
)

// FailedMark starts the line of a failed call, so failures stand out
// without color too.
const FailedMark = "✗"

const (
	ansiRed   = "\x1b[31m"
	ansiReset = "\x1b[0m"
)

// Print writes nodes as an indented tree, one line per call, children
// under their parent with box-drawing connectors:
//
//	GET /api/orders/7 → 200  orders (old 127.0.0.1:9001) 12.3ms  +0.0ms
//	├─ GET /api/users/1 → 200  users (upstream 127.0.0.1:9200) 2.1ms  +1.0ms
//	└─ ✗ POST /api/pay → 502 bad_gateway  pay (new 127.0.0.1:9300) 5.0ms  +3.2ms
//
// The line gives the method and URI, the status and upstream error, the
// route, the side and target that answered, the latency and the start
// after the chain's first call. A failed call (Record.Failed) starts with
// FailedMark and, when color is true, is red. Print writes once, at the
// end, and returns the writer's error.
func Print(w io.Writer, nodes []*Node, color bool) error {
	first, _ := span(nodes)
	p := printer{color: color, first: first}
	for _, n := range nodes {
		p.node(n, "", "", "")
	}
	_, err := w.Write(p.buf)
	return err
}

type printer struct {
	buf   []byte
	color bool
	first time.Time
}

// node prints n after prefix and connector, and its children under
// childPrefix.
func (p *printer) node(n *Node, prefix, connector, childPrefix string) {
	p.buf = append(p.buf, prefix...)
	p.buf = append(p.buf, connector...)
	r := n.Record
	failed := r.Failed()
	if failed && p.color {
		p.buf = append(p.buf, ansiRed...)
	}
	p.buf = appendCall(p.buf, r, p.first)
	if failed && p.color {
		p.buf = append(p.buf, ansiReset...)
	}
	p.buf = append(p.buf, '\n')
	for i, c := range n.Children {
		if i == len(n.Children)-1 {
			p.node(c, childPrefix, "└─ ", childPrefix+"   ")
		} else {
			p.node(c, childPrefix, "├─ ", childPrefix+"│  ")
		}
	}
}

// appendCall appends the text of one call's line.
func appendCall(b []byte, r *store.Record, first time.Time) []byte {
	if r.Failed() {
		b = append(b, FailedMark+" "...)
	}
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.URI...)
	b = append(b, " → "...)
	switch {
	case r.Status > 0 && r.Error != "":
		b = strconv.AppendInt(b, int64(r.Status), 10)
		b = append(b, ' ')
		b = append(b, r.Error...)
	case r.Status > 0:
		b = strconv.AppendInt(b, int64(r.Status), 10)
	case r.Error != "":
		b = append(b, r.Error...)
	default:
		b = append(b, "no response"...)
	}
	b = append(b, "  "...)
	b = append(b, r.Route...)
	b = append(b, " ("...)
	b = append(b, r.Side...)
	if r.Target != "" {
		b = append(b, ' ')
		b = append(b, r.Target...)
	}
	if r.Shadow {
		b = append(b, ", shadow"...)
	}
	b = append(b, ") "...)
	b = appendMillis(b, r.Latency)
	b = append(b, "  +"...)
	return appendMillis(b, r.Start.Sub(first))
}

// appendMillis appends d as milliseconds with one decimal.
func appendMillis(b []byte, d time.Duration) []byte {
	b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 1, 64)
	return append(b, "ms"...)
}
