package shadow

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/chain"
	"github.com/cutover/cutover/router"
)

func TestInShadowChain(t *testing.T) {
	for state, want := range map[string]bool{
		"":                           false,
		"cutover=shadow":             true,
		"vendor=x, cutover=shadow":   true,
		"vendor=x,\tcutover=shadow ": true,
		"mycutover=shadow":           false,
		"cutover=shadowed,a=b":       false,
		"cutover=live":               false,
	} {
		if got := inShadowChain([]byte(state)); got != want {
			t.Errorf("inShadowChain(%q) = %v, want %v", state, got, want)
		}
	}
}

// TestTagCarriesImitatedSide: a copy on a cohort route carries the side it
// imitates in baggage, replacing the primary's member and keeping others.
func TestTagCarriesImitatedSide(t *testing.T) {
	for _, tc := range []struct {
		cohort, want string
		imitates     router.Side
	}{
		{"checkout", "cutover.cohort.checkout=new,userId=alice", router.SideNew},
		{"checkout", "cutover.cohort.checkout=old,userId=alice", router.SideOld},
		{"", "userId=alice,cutover.cohort.checkout=old", router.SideNew},
	} {
		var h fasthttp.RequestHeader
		h.Set("baggage", "userId=alice,cutover.cohort.checkout=old")
		var c chain.Chain
		tag(&h, &c, &Settings{ChainHeader: "X-Chain-Id", Cohort: tc.cohort}, "b", "b-v2", tc.imitates, nil)
		if got := string(h.Peek("baggage")); got != tc.want {
			t.Errorf("cohort %q imitating %v: baggage %q, want %q", tc.cohort, tc.imitates, got, tc.want)
		}
	}
}
