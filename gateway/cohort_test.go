package gateway

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/router"
)

// TestTagCohortBaggage: what a cohort hop sends upstream in baggage, from
// what it received.
func TestTagCohortBaggage(t *testing.T) {
	g := benchGatewayWith(t, "127.0.0.1:1", "127.0.0.1:1", "    tenant: [{ header: X-Org-Id }]\n    gray: { cohort: checkout, percent: 0 }\n")
	snap := g.snap.Load()
	route := snap.table.Route("orders")
	for _, tc := range []struct {
		name, baggage string // header lines, "\n" between lines
		tenant        string
		want          string
		reason        router.Reason
	}{
		{"entry hop adds its side", "", "t1", "cutover.cohort.checkout=old", router.ReasonBucket},
		{"other members kept", "userId=alice", "t1", "cutover.cohort.checkout=old,userId=alice", router.ReasonBucket},
		{"inner hop follows, header unchanged", "a=1, cutover.cohort.checkout=new", "", "a=1, cutover.cohort.checkout=new", router.ReasonBaggage},
		{"a tenant's bucket overrides a stale side", "cutover.cohort.checkout=new", "t1", "cutover.cohort.checkout=old", router.ReasonBucket},
		{"lines joined into one", "a=1\ncutover.cohort.checkout=new,b=2", "", "cutover.cohort.checkout=new,a=1,b=2", router.ReasonBaggage},
		{"malformed dropped whole", "a=1,=oops", "t1", "cutover.cohort.checkout=old", router.ReasonBucket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "GET /api/orders HTTP/1.1\r\nHost: x\r\n"
			if tc.tenant != "" {
				raw += "X-Org-Id: " + tc.tenant + "\r\n"
			}
			if tc.baggage != "" {
				for _, line := range strings.Split(tc.baggage, "\n") {
					raw += "baggage: " + line + "\r\n"
				}
			}
			var ctx fasthttp.RequestCtx
			if err := ctx.Request.Read(bufioReader(raw + "\r\n")); err != nil {
				t.Fatal(err)
			}
			st := &requestState{}
			st.scan.scanRequest(&ctx.Request.Header, snap.chainHeader, snap.chainCanon)
			cl := g.decide(snap, route, st, &ctx.Request, []byte("/api/orders"), []byte("4bf92f3577b34da6a3ce929d0e0e4736"))
			if cl.reason != tc.reason || cl.cohort != "checkout" {
				t.Fatalf("reason %v cohort %q, want %v checkout", cl.reason, cl.cohort, tc.reason)
			}
			tagCohort(&ctx.Request.Header, &st.scan, snap, &st.decision, st.baggage, &g.metrics.cohorts, nil)
			var got []string
			for k, v := range ctx.Request.Header.All() {
				if strings.EqualFold(string(k), "baggage") {
					got = append(got, string(v))
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("baggage upstream %q, want [%q]", got, tc.want)
			}
		})
	}
}

func TestSideHeader(t *testing.T) {
	var resp fasthttp.Response
	setSideHeader(&resp, call{side: router.SideNew, cohort: "checkout", reason: router.ReasonBaggage})
	if got := string(resp.Header.Peek(HeaderSide)); got != "new; cohort=checkout; from=baggage" {
		t.Fatalf("%s: %q", HeaderSide, got)
	}
	setSideHeader(&resp, call{side: router.SideOld})
	if got := string(resp.Header.Peek(HeaderSide)); got != "old" {
		t.Fatalf("%s without a cohort: %q", HeaderSide, got)
	}
}
