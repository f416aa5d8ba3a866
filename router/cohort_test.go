package router

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cutover/cutover/configs"
)

// cohortTable has two routes of cohort checkout (a reads the tenant from a
// header, b has no tenant source) and a route outside it.
func cohortTable(percent string) *Table {
	tenant := []*configs.TenantSource{{Header: "X-Org-Id"}}
	return New([]*configs.Route{
		{Name: "a", Match: configs.Match{PathPrefix: "/a"}, Old: "a1", New: "a2", Tenant: tenant,
			Gray: &configs.Gray{Cohort: "checkout", Percent: pct(percent), Exclude: []string{"42"}, Tenants: []string{"1001"}}},
		{Name: "b", Match: configs.Match{PathPrefix: "/b"}, Old: "b1", New: "b2", Tenant: tenant,
			Gray: &configs.Gray{Cohort: "checkout", Percent: pct(percent), Exclude: []string{"42"}}},
		{Name: "solo", Match: configs.Match{PathPrefix: "/solo"}, Old: "s1", New: "s2", Tenant: tenant,
			Gray: &configs.Gray{Percent: pct(percent)}},
	}, configs.Environments{
		Header:   "X-Env",
		Overlays: map[string]map[string]string{"feature-x": {"b2": "b2-featx", "b1": "b1-featx"}},
		Tenants:  map[string][]string{"feature-x": {"7"}},
	})
}

func TestCohortMembersBucketAlike(t *testing.T) {
	tab := cohortTable("30")
	for i := range 2000 {
		tenant := "t" + strconv.Itoa(i)
		a, b := tab.Explain(tab.Route("a"), tenant, ""), tab.Explain(tab.Route("b"), tenant, "")
		if a.Side != b.Side || a.Bucket != b.Bucket {
			t.Fatalf("tenant %s: a %v/%d, b %v/%d", tenant, a.Side, a.Bucket, b.Side, b.Bucket)
		}
		if want := Bucket("checkout", tenant); a.Bucket != want {
			t.Fatalf("tenant %s: bucket %d, want hash(cohort, tenant) = %d", tenant, a.Bucket, want)
		}
		if a.Cohort != "checkout" {
			t.Fatalf("cohort %q", a.Cohort)
		}
	}
}

// TestCohortBucketsMonotonic: raising a cohort's percent only adds
// tenants, as on a route of its own.
func TestCohortBucketsMonotonic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tenants := make([]string, 500)
	for i := range tenants {
		tenants[i] = strconv.FormatUint(r.Uint64(), 36)
	}
	prev := map[string]bool{}
	for basis := 0; basis <= Buckets; basis += 1 + r.IntN(700) {
		tab, err := cohortTable("0").WithPercent("b", basis)
		if err != nil {
			t.Fatal(err)
		}
		for _, tenant := range tenants {
			isNew := tab.Explain(tab.Route("b"), tenant, "").Side == SideNew
			if prev[tenant] && !isNew {
				t.Fatalf("tenant %s went back to old at basis %d", tenant, basis)
			}
			prev[tenant] = isNew
		}
	}
}

func TestCohortDecisionPrecedence(t *testing.T) {
	tab := cohortTable("0")
	full, _ := cohortTable("100").WithPercent("b", Buckets)
	for _, tc := range []struct {
		name             string
		tab              *Table
		route            string
		tenant, baggage  string
		env              string
		side             Side
		reason           Reason
		state            Baggage
		service, wantEnv string
		tagged           bool
	}{
		{name: "no tenant follows baggage new", tab: tab, route: "b", baggage: "cutover.cohort.checkout=new", side: SideNew, reason: ReasonBaggage, state: BaggageFound, service: "b2"},
		{name: "other members kept around it", tab: full, route: "b", baggage: "k=v, cutover.cohort.checkout = old ;p=1,z=9", side: SideOld, reason: ReasonBaggage, state: BaggageFound, service: "b1"},
		{name: "tenant buckets, same answer", tab: tab, route: "b", tenant: "t1", baggage: "cutover.cohort.checkout=new", side: SideOld, reason: ReasonBucket, state: BaggageFound, service: "b1"},
		{name: "exclude wins", tab: full, route: "b", tenant: "42", baggage: "cutover.cohort.checkout=new", side: SideOld, reason: ReasonExcluded, state: BaggageFound, service: "b1"},
		{name: "listed wins", tab: tab, route: "a", tenant: "1001", baggage: "cutover.cohort.checkout=old", side: SideNew, reason: ReasonListed, state: BaggageFound, service: "a2"},
		{name: "malformed ignored", tab: tab, route: "b", baggage: "cutover.cohort.checkout=new,=x", side: SideOld, reason: ReasonChain, state: BaggageMalformed, service: "b1"},
		{name: "bad value ignored", tab: tab, route: "b", baggage: "cutover.cohort.checkout=maybe", side: SideOld, reason: ReasonChain, state: BaggageMalformed, service: "b1"},
		{name: "oversized ignored", tab: tab, route: "b", baggage: "cutover.cohort.checkout=new," + strings.Repeat("k=v,", 181), side: SideOld, reason: ReasonChain, state: BaggageOversized, service: "b1"},
		{name: "other cohort ignored", tab: tab, route: "b", baggage: "cutover.cohort.billing=new", side: SideOld, reason: ReasonChain, state: BaggageNone, service: "b1"},
		{name: "route outside the cohort", tab: tab, route: "solo", baggage: "cutover.cohort.checkout=new", side: SideOld, reason: ReasonChain, state: BaggageNone, service: "s1"},
		{name: "entry tag", tab: tab, route: "b", tenant: "7", side: SideOld, reason: ReasonBucket, service: "b1-featx", wantEnv: "feature-x", tagged: true},
		{name: "sent tag wins over entry tag", tab: tab, route: "b", tenant: "7", env: "other", side: SideOld, reason: ReasonBucket, service: "b1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			if tc.tenant != "" {
				h.Set("X-Org-Id", tc.tenant)
			}
			if tc.baggage != "" {
				h.Set("baggage", tc.baggage)
			}
			if tc.env != "" {
				h.Set("X-Env", tc.env)
			}
			d := decide(tc.tab, tc.route, &Request{Headers: &h, ChainID: []byte("4bf92f3577b34da6a3ce929d0e0e4736")})
			if tc.reason == ReasonChain {
				// The chain's bucket decides; compare with it rather than a hash value.
				tc.side = sideFor(Bucket("checkout", "4bf92f3577b34da6a3ce929d0e0e4736"), tc.tab.Route(tc.route).Percent())
				if tc.route == "solo" {
					tc.side = sideFor(Bucket("solo", "4bf92f3577b34da6a3ce929d0e0e4736"), tc.tab.Route(tc.route).Percent())
				}
			}
			if d.Side != tc.side || d.Reason != tc.reason || d.Baggage != tc.state || (tc.service != "" && tc.side == SideOld && d.Service != tc.service) {
				t.Fatalf("got side %v reason %v baggage %v service %s; want %v %v %v %s", d.Side, d.Reason, d.Baggage, d.Service, tc.side, tc.reason, tc.state, tc.service)
			}
			if d.Env != tc.wantEnv || d.EnvTagged != tc.tagged {
				t.Fatalf("env %q tagged %v; want %q %v", d.Env, d.EnvTagged, tc.wantEnv, tc.tagged)
			}
		})
	}
}

// TestBaggageRoundTrip: what AppendBaggage writes parses back to the side
// it wrote, keeps the other members, and never exceeds the W3C limits.
func TestBaggageRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		n := r.IntN(220)
		var in []byte
		var keys []string
		for j := range n {
			if j > 0 {
				in = append(in, ',')
			}
			k := "k" + strconv.Itoa(j)
			keys = append(keys, k)
			in = append(in, k...)
			in = append(in, '=')
			in = append(in, strings.Repeat("v", r.IntN(90))...)
			if r.IntN(5) == 0 {
				in = append(in, ";prop"...)
			}
		}
		side := SideOld
		if r.IntN(2) == 0 {
			side = SideNew
		}
		out, dropped := AppendBaggage(nil, in, "checkout", side)
		if len(out) > MaxBaggageBytes {
			t.Fatalf("case %d: %d bytes written", i, len(out))
		}
		if checkBaggage(out) != BaggageNone {
			t.Fatalf("case %d: wrote invalid baggage %q", i, out)
		}
		got, st := CohortSide(out, "checkout")
		if st != BaggageFound || got != side {
			t.Fatalf("case %d: read back %v %v, wrote %v", i, got, st, side)
		}
		kept := bytes.Count(out, []byte(","))
		if checkBaggage(in) == BaggageNone {
			if kept+dropped != n {
				t.Fatalf("case %d: %d kept + %d dropped != %d members", i, kept, dropped, n)
			}
			if kept > 0 && !bytes.Contains(out, []byte(","+keys[0]+"=")) {
				t.Fatalf("case %d: first member lost", i)
			}
		} else if kept != 0 {
			t.Fatalf("case %d: members of an invalid header carried on", i)
		}
		// Writing again over our own output replaces our member, not adds one.
		again, _ := AppendBaggage(nil, out, "checkout", SideNew)
		if bytes.Count(again, []byte(CohortBaggagePrefix)) != 1 {
			t.Fatalf("case %d: %q", i, again)
		}
	}
}

func FuzzBaggage(f *testing.F) {
	for _, s := range []string{"", "cutover.cohort.checkout=new", "a=b,c=d;p;q=1", " k = v , cutover.cohort.checkout=old", ",,", "=", "k=v;", "k=\"v\"", strings.Repeat("k=v,", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		side, st := CohortSide([]byte(s), "checkout")
		if st == BaggageFound && side != SideOld && side != SideNew {
			t.Fatalf("side %v", side)
		}
		out, _ := AppendBaggage(nil, []byte(s), "checkout", SideNew)
		if len(out) > MaxBaggageBytes || checkBaggage(out) != BaggageNone {
			t.Fatalf("wrote %q from %q", out, s)
		}
		if got, st := CohortSide(out, "checkout"); got != SideNew || st != BaggageFound {
			t.Fatalf("read back %v %v from %q", got, st, out)
		}
	})
}
