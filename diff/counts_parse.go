package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parsedCounts is one Counts, interpreted and checked, its zero counts
// dropped.
type parsedCounts struct {
	compared, overflow, noisePairs, noiseDiffering uint64
	fields, noise                                  map[string]uint64 // field name → pairs
	gen                                            [numGenClasses]map[string]uint64
	tenantSigs                                     map[string][]nameCount // tenant → its signatures' pairs, by name
	sigs                                           []nameCount            // by count desc, then name
	status                                         []StatusPair           // by count desc, then statuses
	lat                                            [2][]idCount           // histogram buckets, old and new
	tenants                                        []TenantCount          // by compared desc, differing desc, name
}

type nameCount struct {
	name string
	n    uint64
}

func unknownName(name string) error { return fmt.Errorf("unknown name %q", name) }

// parseCounts interprets cs and checks that its counts are consistent.
func parseCounts(cs Counts) (*parsedCounts, error) {
	p := &parsedCounts{fields: map[string]uint64{}, noise: map[string]uint64{}, tenantSigs: map[string][]nameCount{}}
	for k := range p.gen {
		p.gen[k] = map[string]uint64{}
	}
	tenants := map[string]*TenantCount{}
	var members []string
	for name, v := range cs {
		if v < 0 {
			return nil, fmt.Errorf("%q counts %d, less than zero", name, v)
		}
		if name == "" {
			return nil, unknownName(name)
		}
		n, body := uint64(v), name[1:]
		switch name[0] {
		case 'c', 'o', 'n', 'N':
			if body != "" {
				return nil, unknownName(name)
			}
			switch name[0] {
			case 'c':
				p.compared = n
			case 'o':
				p.overflow = n
			case 'n':
				p.noisePairs = n
			default:
				p.noiseDiffering = n
			}
		case 'f', 'F':
			if _, _, _, ok := parseField(body); !ok {
				return nil, unknownName(name)
			}
			if n > 0 && name[0] == 'f' {
				p.fields[body] = n
			} else if n > 0 {
				p.noise[body] = n
			}
		case 's':
			var ok bool
			if members, ok = splitSignature(body, members); !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.sigs = append(p.sigs, nameCount{name, n})
			}
		case 'g':
			k := -1
			if body != "" {
				k = genClassOf(body[0])
			}
			if k < 0 {
				return nil, unknownName(name)
			}
			if _, _, _, ok := parseField(body[1:]); !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.gen[k][body[1:]] = n
			}
		case 'd':
			tenant, sig, ok := splitTenantSig(body)
			if ok {
				members, ok = splitSignature(sig[1:], members)
			}
			if !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.tenantSigs[tenant] = append(p.tenantSigs[tenant], nameCount{sig, n})
				if tenants[tenant] == nil {
					tenants[tenant] = &TenantCount{Tenant: tenant}
				}
			}
		case 'p':
			old, new, ok := parseStatus(body)
			if !ok {
				return nil, unknownName(name)
			}
			if n > 0 {
				p.status = append(p.status, StatusPair{Old: old, New: new, Count: n})
			}
		case 'l', 'L':
			b, ok := atoiCanonical(body)
			if !ok || b >= histBuckets {
				return nil, unknownName(name)
			}
			if i := strings.IndexByte("lL", name[0]); n > 0 {
				p.lat[i] = append(p.lat[i], idCount{uint32(b), n})
			}
		case 't', 'T':
			if body == "" {
				return nil, unknownName(name)
			}
			if n == 0 {
				continue
			}
			t := tenants[body]
			if t == nil {
				t = &TenantCount{Tenant: body}
				tenants[body] = t
			}
			if name[0] == 't' {
				t.Compared = n
			} else {
				t.Differing = n
			}
		default:
			return nil, unknownName(name)
		}
	}
	for _, t := range tenants {
		p.tenants = append(p.tenants, *t)
	}
	for _, sigs := range p.tenantSigs {
		slices.SortFunc(sigs, func(x, y nameCount) int {
			return cmp.Or(cmp.Compare(y.n, x.n), strings.Compare(x.name, y.name))
		})
	}
	slices.SortFunc(p.sigs, func(x, y nameCount) int {
		return cmp.Or(cmp.Compare(y.n, x.n), strings.Compare(x.name, y.name))
	})
	slices.SortFunc(p.status, func(x, y StatusPair) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Old, y.Old), cmp.Compare(x.New, y.New))
	})
	slices.SortFunc(p.tenants, func(x, y TenantCount) int {
		return cmp.Or(cmp.Compare(y.Compared, x.Compared), cmp.Compare(y.Differing, x.Differing), strings.Compare(x.Tenant, y.Tenant))
	})
	return p, p.check(members)
}

// check verifies the invariants that every Counts of one aggregator holds
// and sums of them keep. members is scratch space.
func (p *parsedCounts) check(members []string) error {
	if p.noiseDiffering > p.noisePairs {
		return fmt.Errorf(`"N" counts %d differing noise pairs, more than the %d noise pairs of "n"`, p.noiseDiffering, p.noisePairs)
	}
	for f, n := range p.fields {
		if n > p.compared {
			return fmt.Errorf(`%q counts %d pairs, more than the %d compared of "c"`, "f"+f, n, p.compared)
		}
	}
	for k := range p.gen {
		for f, n := range p.gen[k] {
			if n > p.fields[f] {
				return fmt.Errorf(`%q counts %d pairs, more than the %d of %q`, "g"+string(genLetters[k])+f, n, p.fields[f], "f"+f)
			}
		}
	}
	for f, n := range p.noise {
		if n > p.noiseDiffering {
			return fmt.Errorf(`%q counts %d noise pairs, more than the %d differing of "N"`, "F"+f, n, p.noiseDiffering)
		}
	}
	if p.overflow > p.compared {
		return fmt.Errorf(`"o" counts %d pairs, more than the %d compared of "c"`, p.overflow, p.compared)
	}
	bySig := map[string]uint64{} // field name → pairs of the signatures holding it
	differing := p.overflow
	for _, s := range p.sigs {
		if differing += s.n; differing > p.compared {
			return fmt.Errorf(`%q and the other signatures count %d differing pairs, more than the %d compared of "c"`, s.name, differing, p.compared)
		}
		members, _ = splitSignature(s.name[1:], members)
		for _, m := range members {
			if bySig[m] += s.n; bySig[m] > p.fields[m] {
				return fmt.Errorf(`%q counts %d pairs, fewer than the %d of its signatures such as %q`, "f"+m, p.fields[m], bySig[m], s.name)
			}
		}
	}
	var status uint64
	for _, s := range p.status {
		if status += s.Count; status > p.compared {
			return fmt.Errorf(`%q and the other status pairs count %d pairs, more than the %d compared of "c"`,
				statusName(statusKey{int32(s.Old), int32(s.New)}), status, p.compared)
		}
	}
	for i, tag := range [2]string{"l", "L"} {
		var sum uint64
		for _, b := range p.lat[i] {
			if sum += b.n; sum > p.compared {
				return fmt.Errorf(`%q and the other latency buckets count %d pairs, more than the %d compared of "c"`, tag+strconv.Itoa(int(b.id)), sum, p.compared)
			}
		}
		if sum != p.compared {
			return fmt.Errorf(`the latency buckets "%s…" count %d pairs, not the %d compared of "c"`, tag, sum, p.compared)
		}
	}
	var tenants uint64
	sigs := make(map[string]uint64, len(p.sigs))
	for _, s := range p.sigs {
		sigs[s.name] = s.n
	}
	tenantBySig := map[string]uint64{} // signature name → the tenants' pairs with it
	for _, t := range p.tenants {
		differing := t.Differing
		for _, s := range p.tenantSigs[t.Tenant] {
			differing += s.n
			if tenantBySig[s.name] += s.n; tenantBySig[s.name] > sigs[s.name] {
				return fmt.Errorf("%q counts %d pairs, fewer than the %d its tenants count", s.name, sigs[s.name], tenantBySig[s.name])
			}
		}
		if differing > t.Compared {
			return fmt.Errorf("%q counts %d differing pairs, more than the %d compared of %q", "T"+t.Tenant, differing, t.Compared, "t"+t.Tenant)
		}
		if tenants += t.Compared; tenants > p.compared {
			return fmt.Errorf(`%q and the other tenants count %d pairs, more than the %d compared of "c"`, "t"+t.Tenant, tenants, p.compared)
		}
	}
	return nil
}

// splitSignature appends the field names of a signature name's operand to
// dst[:0]; ok is false unless they are canonical: at least one,
// length-prefixed, valid and in strictly increasing byte order.
func splitSignature(s string, dst []string) (fields []string, ok bool) {
	dst = dst[:0]
	for s != "" {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return dst, false
		}
		n, ok := atoiCanonical(s[:i])
		if !ok || n == 0 || n > len(s)-i-1 {
			return dst, false
		}
		f := s[i+1 : i+1+n]
		if _, _, _, ok := parseField(f); !ok || (len(dst) > 0 && f <= dst[len(dst)-1]) {
			return dst, false
		}
		dst = append(dst, f)
		s = s[i+1+n:]
	}
	return dst, len(dst) > 0
}

// splitTenantSig reads a tenant signature name's operand,
// "<len>:<tenant><signature operand>", returning the signature's name.
func splitTenantSig(s string) (tenant, sig string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	n, ok := atoiCanonical(s[:i])
	if !ok || n == 0 || n > len(s)-i-1 {
		return "", "", false
	}
	return s[i+1 : i+1+n], "s" + s[i+1+n:], true
}

// parseStatus reads "<old>:<new>": statuses from -1 to 999 that differ, or
// -1:-1.
func parseStatus(s string) (old, new int, ok bool) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return 0, 0, false
	}
	old, ok1 := parseStatusCode(s[:i])
	new, ok2 := parseStatusCode(s[i+1:])
	return old, new, ok1 && ok2 && (old != new || old == -1)
}

func parseStatusCode(s string) (int, bool) {
	if s == "-1" {
		return -1, true
	}
	n, ok := atoiCanonical(s)
	return n, ok && n <= 999
}

// atoiCanonical reads a decimal number written without sign or leading
// zero, of at most 9 digits.
func atoiCanonical(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
